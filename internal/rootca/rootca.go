// Package rootca reads the trusted root certificates that the commands
// and services are told to use instead of the system roots.
package rootca

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Load returns the roots in the PEM file named file, else in the file
// named by SSL_CERT_FILE (read with getenv, if not nil), else nil, which
// means the system roots.
func Load(file string, getenv func(string) string) (*x509.CertPool, error) {
	if file == "" && getenv != nil {
		file = getenv("SSL_CERT_FILE")
	}
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate found", file)
	}
	return pool, nil
}
