package policyhost

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"
)

// fileStamp identifies one version of a file.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(name string) (fileStamp, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.ModTime(), fi.Size()}, nil
}

// fileCert is a certificate loaded from a PEM certificate chain file and a
// key file, with the versions of the files it was loaded from.
type fileCert struct {
	certFile, keyFile   string
	certStamp, keyStamp fileStamp
	cert                *tls.Certificate
}

// notAfter returns when the leaf certificate expires.
func (fc *fileCert) notAfter() time.Time { return fc.cert.Leaf.NotAfter }

// loadFileCert loads the certificate for host from certFile and keyFile,
// or returns prev when it was loaded from the same versions of the same
// files. The certificate must be valid for host (RFC 8461 §3.3: senders
// check it for "mta-sts.<domain>"); expiry is left to the expiry check.
func loadFileCert(host, certFile, keyFile string, prev *fileCert) (*fileCert, error) {
	cs, err := stampOf(certFile)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	ks, err := stampOf(keyFile)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if prev != nil && prev.certFile == certFile && prev.keyFile == keyFile && prev.certStamp == cs && prev.keyStamp == ks {
		return prev, nil
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading %s and %s: %w", certFile, keyFile, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s: %w", certFile, err)
		}
	}
	if err := pair.Leaf.VerifyHostname(host); err != nil {
		return nil, fmt.Errorf("%s is not valid for %s: %w", certFile, host, err)
	}
	return &fileCert{certFile: certFile, keyFile: keyFile, certStamp: cs, keyStamp: ks, cert: &pair}, nil
}

// CheckCertFiles loads the certificate and key files of every domain of c
// as a start would, and returns every problem found, joined: a file that
// cannot be read, a key that does not match its certificate, a certificate
// not valid for "mta-sts."+domain, and, with ACME on, its ca_file. Domains
// without files (ACME) are skipped.
func (c *Config) CheckCertFiles() error {
	var errs []error
	if c.ACME.Enabled {
		if _, err := acmeRoots(c.ACME); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range c.Domains {
		if d.CertFile == "" {
			continue
		}
		if _, err := loadFileCert("mta-sts."+d.Domain, d.CertFile, d.KeyFile, nil); err != nil {
			errs = append(errs, fmt.Errorf("domain %s: %w", d.Domain, err))
		}
	}
	return errors.Join(errs...)
}
