package policyhost

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/sts"
)

// Our own sender-side client accepts the policy of every served domain
// (RFC 8461 §3.3), over real sockets with real certificates.
func TestServerFetchPolicy(t *testing.T) {
	w := testworld.New(t)
	ts := startSite(t, testConfig(t, w, "a.test", "b.test"), Options{})
	for _, d := range []string{"a.test", "b.test"} {
		f, err := ts.fetch(t, w, d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if f.Policy.Mode != sts.ModeEnforce || len(f.Policy.MX) != 2 || f.Policy.MX[0] != "mx1."+d || len(f.Warnings) != 0 {
			t.Errorf("%s: policy %+v, warnings %v", d, f.Policy, f.Warnings)
		}
		if !strings.Contains(string(f.Body), "\r\n") || strings.Contains(strings.ReplaceAll(string(f.Body), "\r\n", ""), "\n") {
			t.Errorf("%s: body not CRLF: %q", d, f.Body)
		}
		if f.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", d, f.Header.Get("Cache-Control"))
		}
	}
	if !ts.logged(`"msg":"request"`, `"host":"mta-sts.a.test"`, `"status":200`) {
		t.Errorf("no access log record:\n%s", ts.logs)
	}
}

// An unknown SNI, or none, fails the handshake: no certificate, and so no
// policy, of another domain is ever shown.
func TestServerUnknownSNI(t *testing.T) {
	w := testworld.New(t)
	ts := startSite(t, testConfig(t, w, "a.test"), Options{})
	for _, sni := range []string{"mta-sts.other.test", "a.test", ""} {
		conn, err := tls.Dial("tcp", ts.addr(), &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		if err == nil {
			conn.Close()
			t.Errorf("SNI %q: handshake succeeded", sni)
		}
	}
	// An unknown domain over a connection with a valid SNI gets 421.
	client := &http.Client{Transport: &http.Transport{
		DialContext:     ts.dialer(),
		TLSClientConfig: &tls.Config{RootCAs: w.RootCAs(), ServerName: "mta-sts.a.test"},
	}}
	req, _ := http.NewRequest(http.MethodGet, "https://mta-sts.a.test"+sts.PolicyPath, nil)
	req.Host = "mta-sts.other.test"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest || strings.Contains(string(body), "STSv1") {
		t.Errorf("other Host: %d %q", resp.StatusCode, body)
	}
}

// A reload swaps the policies without dropping connections; the id
// changes with the text; an invalid configuration is refused and the last
// good one keeps being served.
func TestServerReload(t *testing.T) {
	w := testworld.New(t)
	cfg := testConfig(t, w, "a.test", "b.test")
	ts := startSite(t, cfg, Options{})
	idBefore := policyID(t, ts.srv, "a.test")

	client := &http.Client{Transport: &http.Transport{DialContext: ts.dialer(), TLSClientConfig: &tls.Config{RootCAs: w.RootCAs()}}}
	// get fetches the policy and reports whether the connection was reused.
	get := func() (string, bool) {
		t.Helper()
		var reused bool
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, "https://mta-sts.a.test"+sts.PolicyPath, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), reused
	}
	before, _ := get()

	next := cfg
	next.Domains = append([]DomainConfig(nil), cfg.Domains...)
	next.Domains[0].Mode = sts.ModeTesting
	if err := ts.srv.Reload(context.Background(), next); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	after, reused := get()
	if before == after || !strings.Contains(after, "mode: testing") {
		t.Errorf("after reload: %q", after)
	}
	if !reused {
		t.Errorf("the keep-alive connection was dropped by the reload")
	}
	idAfter := policyID(t, ts.srv, "a.test")
	if idAfter == idBefore {
		t.Errorf("id unchanged after the policy changed: %s", idAfter)
	}
	if policyID(t, ts.srv, "b.test") == "" {
		t.Errorf("b.test lost")
	}

	bad := next
	bad.Domains = append([]DomainConfig(nil), next.Domains...)
	bad.Domains[1].MaxAge = 99999999999
	err := ts.srv.Reload(context.Background(), bad)
	if err == nil || !strings.Contains(err.Error(), `domain "b.test"`) || !strings.Contains(err.Error(), "max_age") {
		t.Errorf("invalid reload: %v", err)
	}
	if got, _ := get(); got != after {
		t.Errorf("after a refused reload: %q, want %q", got, after)
	}
	if !ts.logged("configuration refused") {
		t.Errorf("refusal not logged:\n%s", ts.logs)
	}
}

func policyID(t *testing.T, s *Server, domain string) string {
	t.Helper()
	for _, p := range s.Handler().Policies() {
		if p.Domain == domain {
			return p.ID
		}
	}
	return ""
}

// Certificate files are reloaded when they change; expiry is exported
// and warned about 14 days ahead.
func TestServerCertificateFiles(t *testing.T) {
	w := testworld.New(t)
	cfg := testConfig(t, w, "a.test")
	cfg.CertCheck = 50 * time.Millisecond
	soon := time.Now().Add(5 * 24 * time.Hour).Truncate(time.Second)
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, "soon", w.CA.Issue(t, testworld.CertOptions{DNSNames: []string{"mta-sts.a.test"}, NotAfter: soon}))
	cfg.Domains[0].CertFile, cfg.Domains[0].KeyFile = certFile, keyFile
	ts := startSite(t, cfg, Options{})
	if !ts.logged("certificate expires soon", "a.test", `"days_left":4`) {
		t.Errorf("no expiry warning:\n%s", ts.logs)
	}
	if got := metricValue(t, ts, `mtasts_serve_certificate_expiry_timestamp_seconds{domain="a.test",host="mta-sts.a.test",service="https",source="file"}`); got != float64(soon.Unix()) {
		t.Errorf("expiry metric %v, want %d", got, soon.Unix())
	}
	f, err := ts.fetch(t, w, "a.test")
	if err != nil || !f.TLS.PeerCertificates[0].NotAfter.Equal(soon) {
		t.Fatalf("first certificate: %v", err)
	}

	// Renewal: new files in place.
	later := time.Now().Add(60 * 24 * time.Hour).Truncate(time.Second)
	renewed := w.CA.Issue(t, testworld.CertOptions{DNSNames: []string{"mta-sts.a.test"}, NotAfter: later})
	replaceCert(t, certFile, keyFile, renewed)
	waitFor(t, "the renewed certificate", func() bool {
		f, err := ts.fetch(t, w, "a.test")
		return err == nil && f.TLS.PeerCertificates[0].NotAfter.Equal(later)
	})
	waitFor(t, "the expiry metric", func() bool {
		return metricValue(t, ts, `mtasts_serve_certificate_expiry_timestamp_seconds{domain="a.test",host="mta-sts.a.test",service="https",source="file"}`) == float64(later.Unix())
	})
}

// A certificate file for the wrong name is refused at load.
func TestServerCertificateWrongName(t *testing.T) {
	w := testworld.New(t)
	cfg := testConfig(t, w, "a.test")
	cfg.Domains[0].CertFile, cfg.Domains[0].KeyFile = writeCert(t, t.TempDir(), "x", w.CA.Valid(t, "a.test"))
	_, err := New(context.Background(), cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), "not valid for mta-sts.a.test") {
		t.Errorf("New: %v", err)
	}
}

// metricValue returns the value of one sample from the metrics listener.
func metricValue(t testing.TB, ts *testSite, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + ts.ls.Metrics.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	return -1
}

// Shutdown lets a request in flight finish, then Run returns nil.
func TestServerGracefulShutdown(t *testing.T) {
	w := testworld.New(t)
	ts := startSite(t, testConfig(t, w, "a.test"), Options{})
	started, release := make(chan struct{}), make(chan struct{})
	ts.srv.Mount("/slow", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(rw, "finished")
	}))
	client := &http.Client{Transport: &http.Transport{DialContext: ts.dialer(), TLSClientConfig: &tls.Config{RootCAs: w.RootCAs()}}}
	got := make(chan string, 1)
	go func() {
		resp, err := client.Get("https://mta-sts.a.test/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- ts.stop() }()
	time.Sleep(100 * time.Millisecond)
	close(release)
	if body := <-got; body != "finished" {
		t.Errorf("request in flight: %q", body)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
}
