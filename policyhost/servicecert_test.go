package policyhost

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// Another TLS service gets the certificate of a served policy host,
// whatever the client's SNI (SMTP clients often send none), and nothing
// for a name the server does not serve.
func TestCertificateFor(t *testing.T) {
	w := testworld.New(t)
	srv, err := New(context.Background(), testConfig(t, w, "a.test"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	get, ok := srv.CertificateFor("MTA-STS.a.test.")
	if !ok {
		t.Fatal("no certificate getter for a served policy host")
	}
	for _, sni := range []string{"", "mx.a.test"} {
		c, err := get(&tls.ClientHelloInfo{ServerName: sni})
		if err != nil {
			t.Fatalf("SNI %q: %v", sni, err)
		}
		if err := c.Leaf.VerifyHostname("mta-sts.a.test"); err != nil {
			t.Errorf("SNI %q: %v", sni, err)
		}
	}
	for _, name := range []string{"", "mx.a.test", "mta-sts.b.test"} {
		if _, ok := srv.CertificateFor(name); ok {
			t.Errorf("a certificate getter for %q, which is not served", name)
		}
	}
}

// CertFile reloads its files when they change and keeps the last good
// version when they break.
func TestCertFile(t *testing.T) {
	w := testworld.New(t)
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, "smtp", w.CA.Valid(t, "mx.a.test"))
	if _, err := LoadCertFile("mx.b.test", certFile, keyFile, nil); err == nil || !strings.Contains(err.Error(), "not valid for mx.b.test") {
		t.Errorf("certificate for another name: %v", err)
	}
	if _, err := LoadCertFile("mx.a.test", certFile, certFile, nil); err == nil {
		t.Error("the certificate file as key was accepted")
	}
	logs := &syncBuffer{}
	cf, err := LoadCertFile("mx.a.test", certFile, keyFile, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	first, err := cf.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}

	renewed := w.CA.Valid(t, "mx.a.test")
	replaceCert(t, certFile, keyFile, renewed)
	second, err := cf.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil || second == first || !second.Leaf.Equal(renewed.Leaf) {
		t.Fatalf("after renewal: %v, same as before: %v", err, second == first)
	}
	if !strings.Contains(logs.String(), "certificate reloaded") {
		t.Errorf("reload not logged:\n%s", logs)
	}

	if err := os.WriteFile(certFile, []byte("broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if c, err := cf.GetCertificate(&tls.ClientHelloInfo{}); err != nil || c != second {
			t.Errorf("with broken files: %v, previous kept: %v", err, c == second)
		}
	}
	if n := strings.Count(logs.String(), "cannot be loaded"); n != 1 {
		t.Errorf("broken files logged %d times, want once:\n%s", n, logs)
	}
}

// The certificate of another service, from files, is in the expiry
// metric with its service and host name, is warned about once like a
// policy host's, and a renewal on disk shows there without a handshake.
func TestWatchCertificate(t *testing.T) {
	w := testworld.New(t)
	cfg := testConfig(t, w, "a.test")
	cfg.CertCheck = 50 * time.Millisecond
	ts := startSite(t, cfg, Options{})
	soon := time.Now().Add(5 * 24 * time.Hour).Truncate(time.Second)
	certFile, keyFile := writeCert(t, t.TempDir(), "smtp", w.CA.Issue(t, testworld.CertOptions{DNSNames: []string{"mx.a.test"}, NotAfter: soon}))
	cf, err := LoadCertFile("mx.a.test", certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.WatchCertificate("smtp", cf)
	sample := `mtasts_serve_certificate_expiry_timestamp_seconds{domain="",host="mx.a.test",service="smtp",source="file"}`
	if got := metricValue(t, ts, sample); got != float64(soon.Unix()) {
		t.Errorf("expiry metric %v, want %d", got, soon.Unix())
	}
	warning := []string{"certificate expires soon", `"host":"mx.a.test"`, `"service":"smtp"`, `"days_left":4`}
	if !ts.logged(warning...) {
		t.Errorf("no expiry warning:\n%s", ts.logs)
	}

	later := time.Now().Add(60 * 24 * time.Hour).Truncate(time.Second)
	replaceCert(t, certFile, keyFile, w.CA.Issue(t, testworld.CertOptions{DNSNames: []string{"mx.a.test"}, NotAfter: later}))
	waitFor(t, "the renewed expiry", func() bool { return metricValue(t, ts, sample) == float64(later.Unix()) })
	if n := strings.Count(ts.logs.String(), `"msg":"certificate expires soon","host":"mx.a.test"`); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, ts.logs)
	}
}
