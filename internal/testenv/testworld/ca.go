package testworld

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a private certificate authority. Certificates it issues verify
// against Pool and against no system root.
type CA struct {
	// Cert is the self-signed CA certificate.
	Cert *x509.Certificate
	// Key signs the certificates the CA issues.
	Key crypto.Signer
	// Now is the clock that the default validity periods of the
	// certificates the CA issues follow; nil means time.Now. Set it, with
	// NewCAValid, for tests that run on a fixed clock.
	Now func() time.Time
}

// now is the CA's clock.
func (ca *CA) now() time.Time {
	if ca != nil && ca.Now != nil {
		return ca.Now()
	}
	return time.Now()
}

// NewCA creates a CA whose certificate names it name (for example "rogue"
// for a CA that clients do not trust).
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	now := time.Now()
	return NewCAValid(t, name, now.Add(-time.Hour), now.Add(10*365*24*time.Hour))
}

// NewCAValid creates a CA like NewCA whose certificate is valid from
// notBefore to notAfter, for tests that run on a fixed clock. Give such
// tests leaf certificates with fixed dates too (CA.Issue).
func NewCAValid(t testing.TB, name string, notBefore, notAfter time.Time) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: "testworld CA " + name, Organization: []string{"testworld"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	cert := createCert(t, tmpl, tmpl, key, key)
	return &CA{Cert: cert, Key: key}
}

// Pool returns a fresh pool holding only the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// PEM returns the CA certificate in PEM form.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// WriteFile writes the CA certificate as PEM into t.TempDir() and returns
// the path, for --ca-file or SSL_CERT_FILE.
func (ca *CA) WriteFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, ca.PEM(), 0o644); err != nil {
		t.Fatalf("testworld: writing CA file: %v", err)
	}
	return path
}

// CertOptions describes a leaf certificate for CA.Issue.
type CertOptions struct {
	// DNSNames and IPs are the subject alternative names.
	DNSNames []string
	IPs      []net.IP
	// CommonName defaults to the first DNS name.
	CommonName string
	// NotBefore and NotAfter default to one hour ago and 90 days from now
	// (on the CA's clock).
	NotBefore, NotAfter time.Time
}

// Issue returns a server certificate signed by the CA. The chain holds the
// leaf and the CA certificate, and Leaf is set.
func (ca *CA) Issue(t testing.TB, o CertOptions) *tls.Certificate {
	t.Helper()
	return issue(t, o, ca)
}

// Valid returns a certificate for names, valid now.
func (ca *CA) Valid(t testing.TB, names ...string) *tls.Certificate {
	t.Helper()
	return ca.Issue(t, CertOptions{DNSNames: names})
}

// Expired returns a certificate for names that expired a day ago.
func (ca *CA) Expired(t testing.TB, names ...string) *tls.Certificate {
	t.Helper()
	now := ca.now()
	return ca.Issue(t, CertOptions{DNSNames: names, NotBefore: now.Add(-90 * 24 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
}

// NotYetValid returns a certificate for names that becomes valid tomorrow.
func (ca *CA) NotYetValid(t testing.TB, names ...string) *tls.Certificate {
	t.Helper()
	now := ca.now()
	return ca.Issue(t, CertOptions{DNSNames: names, NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(90 * 24 * time.Hour)})
}

// SelfSigned returns a self-signed certificate for names, trusted by no pool.
func SelfSigned(t testing.TB, names ...string) *tls.Certificate {
	t.Helper()
	return issue(t, CertOptions{DNSNames: names}, nil)
}

// issue creates a leaf certificate signed by ca, or self-signed if ca is nil.
func issue(t testing.TB, o CertOptions, ca *CA) *tls.Certificate {
	t.Helper()
	now := ca.now()
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.Add(90 * 24 * time.Hour)
	}
	if o.CommonName == "" && len(o.DNSNames) > 0 {
		o.CommonName = o.DNSNames[0]
	}
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: o.CommonName},
		DNSNames:              o.DNSNames,
		IPAddresses:           o.IPs,
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	parent, signer := tmpl, crypto.Signer(key)
	if ca != nil {
		parent, signer = ca.Cert, ca.Key
	}
	leaf := createCert(t, tmpl, parent, key, signer)
	c := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	if ca != nil {
		c.Certificate = append(c.Certificate, ca.Cert.Raw)
	}
	return c
}

// createCert signs tmpl with signer as parent and parses the result.
func createCert(t testing.TB, tmpl, parent *x509.Certificate, key *ecdsa.PrivateKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatalf("testworld: creating certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testworld: parsing certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	return cert
}

// newKey returns a fresh ECDSA P-256 key.
func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testworld: generating key: %v", err)
	}
	return key
}

// newSerial returns a random 128-bit certificate serial number.
func newSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatalf("testworld: generating serial: %v", err)
	}
	return n
}

// WriteCertFiles writes c as PEM files into dir: its certificate chain as
// base.crt and its key (PKCS #8) as base.key, and returns their paths.
func WriteCertFiles(t testing.TB, dir, base string, c *tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	var chain []byte
	for _, der := range c.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, base+".crt"), filepath.Join(dir, base+".key")
	if err := os.WriteFile(certFile, chain, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
