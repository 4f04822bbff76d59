package probe

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testCert is a certificate with its key, for building chains.
type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// newTestCert creates a certificate named cn, a CA if isCA, signed by
// parent or self-signed if parent is nil.
func newTestCert(t *testing.T, cn string, isCA bool, parent *testCert) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  isCA,
	}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else {
		tmpl.DNSNames = []string{cn}
	}
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: cert, key: key}
}

// tlsaFor builds the TLSA record usage selector matching for c, computing
// the association data here rather than with the code under test.
func tlsaFor(usage, selector, matching uint8, c *x509.Certificate) *dns.TLSA {
	data := c.Raw
	if selector == 1 {
		data = c.RawSubjectPublicKeyInfo
	}
	switch matching {
	case 1:
		sum := sha256.Sum256(data)
		data = sum[:]
	case 2:
		sum := sha512.Sum512(data)
		data = sum[:]
	}
	return &dns.TLSA{
		Hdr:          dns.RR_Header{Name: "_25._tcp.mx.example.com.", Rrtype: dns.TypeTLSA, Class: dns.ClassINET, Ttl: 300},
		Usage:        usage,
		Selector:     selector,
		MatchingType: matching,
		Certificate:  hex.EncodeToString(data),
	}
}

func TestTLSAMatches(t *testing.T) {
	root := newTestCert(t, "Root CA", true, nil)
	inter := newTestCert(t, "Intermediate CA", true, root)
	leaf := newTestCert(t, "mx.example.com", false, inter)
	rogueCA := newTestCert(t, "Rogue CA", true, nil)
	rogueLeaf := newTestCert(t, "mx.example.com", false, rogueCA)

	chain := []*x509.Certificate{leaf.cert, inter.cert, root.cert}
	// A rogue leaf presented with the genuine CA certificates: a DANE-TA
	// record for them must not vouch for it.
	forged := []*x509.Certificate{rogueLeaf.cert, inter.cert, root.cert}

	upper := tlsaFor(3, 1, 1, leaf.cert)
	upper.Certificate = strings.ToUpper(upper.Certificate)
	badHex := tlsaFor(3, 1, 1, leaf.cert)
	badHex.Certificate = "zz"
	parsed, err := dns.NewRR("_25._tcp.mx.example.com. 300 IN TLSA 3 1 1 " +
		tlsaFor(3, 1, 1, leaf.cert).Certificate)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		chain  []*x509.Certificate
		tlsa   []*dns.TLSA
		match  bool
		detail string // substring of the detail
	}{
		{"DANE-EE SPKI SHA2-256", chain, []*dns.TLSA{tlsaFor(3, 1, 1, leaf.cert)}, true, "DANE-EE(3) SPKI(1) SHA2-256(1) matches the leaf"},
		{"DANE-EE Cert SHA2-256", chain, []*dns.TLSA{tlsaFor(3, 0, 1, leaf.cert)}, true, "DANE-EE(3) Cert(0) SHA2-256(1)"},
		{"DANE-EE Cert Full", chain, []*dns.TLSA{tlsaFor(3, 0, 0, leaf.cert)}, true, "Cert(0) Full(0)"},
		{"DANE-EE SPKI SHA2-512", chain, []*dns.TLSA{tlsaFor(3, 1, 2, leaf.cert)}, true, "SHA2-512(2)"},
		{"DANE-EE upper-case hex", chain, []*dns.TLSA{upper}, true, "leaf"},
		{"DANE-EE from zone file syntax", chain, []*dns.TLSA{parsed.(*dns.TLSA)}, true, "leaf"},
		{"DANE-EE for another key", chain, []*dns.TLSA{tlsaFor(3, 1, 1, rogueLeaf.cert)}, false, "none of 1 usable TLSA records matches the 3 certificates"},
		{"DANE-EE naming the CA", chain, []*dns.TLSA{tlsaFor(3, 1, 1, inter.cert)}, false, "none of 1 usable"},
		{"second record matches", chain, []*dns.TLSA{tlsaFor(3, 1, 1, rogueLeaf.cert), tlsaFor(3, 1, 1, leaf.cert)}, true, "leaf"},
		{"DANE-TA intermediate", chain, []*dns.TLSA{tlsaFor(2, 0, 1, inter.cert)}, true, "DANE-TA(2) Cert(0) SHA2-256(1) matches certificate 1 of the chain (CN=Intermediate CA)"},
		{"DANE-TA root through intermediate", chain, []*dns.TLSA{tlsaFor(2, 1, 1, root.cert)}, true, "certificate 2 of the chain (CN=Root CA)"},
		{"DANE-TA chain out of order", []*x509.Certificate{leaf.cert, root.cert, inter.cert}, []*dns.TLSA{tlsaFor(2, 1, 1, root.cert)}, true, "certificate 1"},
		{"DANE-TA not presented", []*x509.Certificate{leaf.cert}, []*dns.TLSA{tlsaFor(2, 1, 1, inter.cert)}, false, "the 1 certificates"},
		{"DANE-TA naming the leaf", chain, []*dns.TLSA{tlsaFor(2, 1, 1, leaf.cert)}, false, "none of 1 usable"},
		{"DANE-TA of another CA", chain, []*dns.TLSA{tlsaFor(2, 1, 1, rogueCA.cert)}, false, "none of 1 usable"},
		{"DANE-TA presented with a leaf it did not sign", forged, []*dns.TLSA{tlsaFor(2, 1, 1, root.cert), tlsaFor(2, 0, 1, inter.cert)}, false, "none of 2 usable"},
		{"PKIX usages are unusable for SMTP", chain, []*dns.TLSA{tlsaFor(1, 1, 1, leaf.cert), tlsaFor(0, 1, 1, inter.cert)}, false, "none of 2 TLSA records is usable"},
		{"unknown selector", chain, []*dns.TLSA{{Usage: 3, Selector: 2, MatchingType: 1, Certificate: tlsaFor(3, 1, 1, leaf.cert).Certificate}}, false, "is usable"},
		{"unknown matching type", chain, []*dns.TLSA{{Usage: 3, Selector: 1, MatchingType: 3, Certificate: tlsaFor(3, 1, 1, leaf.cert).Certificate}}, false, "is usable"},
		{"malformed data", chain, []*dns.TLSA{badHex}, false, "is usable"},
		{"no records", chain, nil, false, "none of 0 TLSA records"},
		{"no certificate", nil, []*dns.TLSA{tlsaFor(3, 1, 1, leaf.cert)}, false, "no certificate presented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			match, detail := TLSAMatches(tt.chain, tt.tlsa)
			if match != tt.match || !strings.Contains(detail, tt.detail) {
				t.Errorf("TLSAMatches = %v, %q; want %v, …%q…", match, detail, tt.match, tt.detail)
			}
		})
	}
}
