package testworld

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestCAVerify(t *testing.T) {
	ca := NewCA(t, "test")
	rogue := NewCA(t, "rogue")
	verify := func(c *x509.Certificate, name string) error {
		_, err := c.Verify(x509.VerifyOptions{DNSName: name, Roots: ca.Pool()})
		return err
	}
	tests := []struct {
		desc    string
		cert    *x509.Certificate
		name    string
		wantErr string
	}{
		{"valid", ca.Valid(t, "mx.example.com", "mx2.example.com").Leaf, "mx2.example.com", ""},
		{"wildcard", ca.Valid(t, "*.example.com").Leaf, "mx.example.com", ""},
		{"wrong name", ca.Valid(t, "other.example").Leaf, "mx.example.com", "certificate is valid for other.example"},
		{"expired", ca.Expired(t, "mx.example.com").Leaf, "mx.example.com", "expired"},
		{"not yet valid", ca.NotYetValid(t, "mx.example.com").Leaf, "mx.example.com", "not yet valid"},
		{"unknown CA", rogue.Valid(t, "mx.example.com").Leaf, "mx.example.com", "unknown authority"},
		{"self-signed", SelfSigned(t, "mx.example.com").Leaf, "mx.example.com", "unknown authority"},
	}
	for _, tt := range tests {
		err := verify(tt.cert, tt.name)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.desc, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: got %v, want error containing %q", tt.desc, err, tt.wantErr)
		}
	}
}

func TestCAIssue(t *testing.T) {
	ca := NewCA(t, "test")
	nb := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	c := ca.Issue(t, CertOptions{
		DNSNames:  []string{"a.example"},
		IPs:       []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: nb,
	})
	if len(c.Certificate) != 2 || c.Leaf == nil {
		t.Fatalf("chain of %d, leaf %v", len(c.Certificate), c.Leaf)
	}
	if c.Leaf.Subject.CommonName != "a.example" || !c.Leaf.NotBefore.Equal(nb) {
		t.Errorf("CN %q NotBefore %v", c.Leaf.Subject.CommonName, c.Leaf.NotBefore)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool()}); err != nil {
		t.Errorf("verify: %v", err)
	}
	if err := c.Leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("IP SAN: %v", err)
	}
}

func TestCAFile(t *testing.T) {
	ca := NewCA(t, "test")
	data, err := os.ReadFile(ca.WriteFile(t))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("not a PEM certificate: %q", data)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !cert.Equal(ca.Cert) {
		t.Errorf("file holds another certificate (%v)", err)
	}
}
