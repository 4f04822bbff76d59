package testworld

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// get fetches url with client and returns the response and its body.
func get(t *testing.T, client *http.Client, url string) (*http.Response, string, error) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

func TestPolicyDomain(t *testing.T) {
	w := New(t)
	const policy = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 86400\n"
	h := w.PolicyDomain("Example.com", policy)

	resp, body, err := get(t, w.HTTPClient(), "https://mta-sts.example.com"+PolicyPath)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || body != policy || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("got %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if n := h.Requests(PolicyPath); n != 1 {
		t.Errorf("Requests = %d, want 1", n)
	}

	txt := func() string {
		r := query(t, w.DNS, "udp", "_mta-sts.example.com.", dns.TypeTXT, false)
		if len(r.Answer) != 1 {
			t.Fatalf("TXT answer: %v", r.Answer)
		}
		return strings.Join(r.Answer[0].(*dns.TXT).Txt, "")
	}
	first := w.PolicyID("example.com")
	if got, want := txt(), "v=STSv1; id="+first+";"; got != want {
		t.Errorf("TXT %q, want %q", got, want)
	}

	// Publishing again replaces id and policy on the same host.
	if h2 := w.PolicyDomain("example.com", "version: STSv1\nmode: none\nmax_age: 86400\n"); h2 != h {
		t.Errorf("PolicyDomain started a second host")
	}
	if second := w.PolicyID("example.com"); second == first || !strings.Contains(txt(), second) {
		t.Errorf("new id %q, TXT %q, old id %q", second, txt(), first)
	}
	if _, body, _ := get(t, w.HTTPClient(), "https://mta-sts.example.com"+PolicyPath); !strings.Contains(body, "mode: none") {
		t.Errorf("updated policy not served: %q", body)
	}
}

func TestHTTPSResponses(t *testing.T) {
	w := New(t)
	h := w.HTTPSHost("web.example")
	h.Set("/redirect", Response{Redirect: "https://elsewhere.example/"})
	h.Set("/teapot", Response{Status: 418, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte("{}")})
	h.Set("/chunked", Response{Chunked: true, Body: []byte("0123456789")})
	h.Set("/stall", Response{Stall: 50 * time.Millisecond, Body: []byte("slow")})
	h.Set("/delay", Response{Delay: 10 * time.Second})

	client := w.HTTPClient()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	resp, _, err := get(t, client, "https://web.example/redirect")
	if err != nil || resp.StatusCode != 301 || resp.Header.Get("Location") != "https://elsewhere.example/" {
		t.Errorf("redirect: %v %v", resp, err)
	}
	resp, body, err := get(t, client, "https://web.example/teapot")
	if err != nil || resp.StatusCode != 418 || resp.Header.Get("Content-Type") != "application/json" || body != "{}" {
		t.Errorf("teapot: %v %q %v", resp, body, err)
	}
	resp, body, err = get(t, client, "https://web.example/chunked")
	if err != nil || resp.ContentLength != -1 || body != "0123456789" {
		t.Errorf("chunked: %v %q %v", resp, body, err)
	}
	start := time.Now()
	resp, body, err = get(t, client, "https://web.example/stall")
	if err != nil || body != "slow" || time.Since(start) < 50*time.Millisecond {
		t.Errorf("stall: %v %q %v after %v", resp, body, err, time.Since(start))
	}
	resp, _, err = get(t, client, "https://web.example/missing")
	if err != nil || resp.StatusCode != 404 {
		t.Errorf("missing: %v %v", resp, err)
	}
	if n := h.Requests("/missing"); n != 1 {
		t.Errorf("Requests(/missing) = %d", n)
	}

	// A delayed answer times out the client, and the server gives up.
	client.Timeout = 100 * time.Millisecond
	if _, _, err := get(t, client, "https://web.example/delay"); err == nil || !isTimeout(err) {
		t.Errorf("delay: got %v, want timeout", err)
	}

	h.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "custom") }))
	if _, body, _ := get(t, client, "https://web.example/anything"); body != "custom" {
		t.Errorf("SetHandler: %q", body)
	}
	if n := h.Requests("/anything"); n != 1 {
		t.Errorf("Requests with handler = %d", n)
	}

	// HTTP/2 is offered.
	h2 := w.HTTPClient()
	h2.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	if resp, _, err := get(t, h2, "https://web.example/anything"); err != nil || resp.ProtoMajor != 2 {
		t.Errorf("HTTP/2: %v %v", resp, err)
	}
}

func TestHTTPSCertificates(t *testing.T) {
	w := New(t)
	h := w.HTTPSHost("mta-sts.example.com")
	h.Set("/", Response{Body: []byte("ok")})
	tests := []struct {
		desc    string
		cert    *tls.Certificate
		wantErr string
	}{
		{"valid", w.CA.Valid(t, "mta-sts.example.com"), ""},
		{"wrong name", w.CA.Valid(t, "other.example"), "not mta-sts.example.com"},
		{"expired", w.CA.Expired(t, "mta-sts.example.com"), "expired"},
		{"not yet valid", w.CA.NotYetValid(t, "mta-sts.example.com"), "not yet valid"},
		{"unknown CA", NewCA(t, "rogue").Valid(t, "mta-sts.example.com"), "unknown authority"},
		{"self-signed", SelfSigned(t, "mta-sts.example.com"), "unknown authority"},
	}
	for _, tt := range tests {
		h.SetCert(tt.cert)
		client := w.HTTPClient()
		client.Transport.(*http.Transport).DisableKeepAlives = true
		_, _, err := get(t, client, "https://mta-sts.example.com/")
		var verr *tls.CertificateVerificationError
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.desc, err)
		case tt.wantErr != "" && (!errors.As(err, &verr) || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: got %v, want verification error containing %q", tt.desc, err, tt.wantErr)
		}
	}
}

func TestHTTPSSNI(t *testing.T) {
	w := New(t)
	h := w.HTTPSHost("mta-sts.example.com")
	handshake := func(cfg *tls.Config) (*tls.ConnectionState, error) {
		conn, err := w.DialContext(context.Background(), "tcp", "mta-sts.example.com:443")
		if err != nil {
			t.Fatal(err)
		}
		c := tls.Client(conn, cfg)
		defer c.Close()
		if err := c.Handshake(); err != nil {
			return nil, err
		}
		cs := c.ConnectionState()
		return &cs, nil
	}

	// Without SNI the host still presents its certificate.
	cs, err := handshake(&tls.Config{InsecureSkipVerify: true})
	if err != nil || cs.PeerCertificates[0].Subject.CommonName != "mta-sts.example.com" {
		t.Errorf("no SNI: %v", err)
	}

	h.RequireSNI("mta-sts.example.com")
	if _, err := handshake(&tls.Config{ServerName: "other.example", InsecureSkipVerify: true}); err == nil {
		t.Errorf("RequireSNI: handshake with other SNI succeeded")
	}
	if _, err := handshake(&tls.Config{InsecureSkipVerify: true}); err == nil {
		t.Errorf("RequireSNI: handshake without SNI succeeded")
	}
	cs, err = handshake(&tls.Config{ServerName: "mta-sts.example.com", RootCAs: w.RootCAs()})
	if err != nil {
		t.Fatalf("RequireSNI: right SNI: %v", err)
	}
	if _, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: w.RootCAs(), DNSName: "mta-sts.example.com"}); err != nil {
		t.Errorf("verify: %v", err)
	}
	h.RequireSNI("")
	if _, err := handshake(&tls.Config{InsecureSkipVerify: true}); err != nil {
		t.Errorf("RequireSNI lifted: %v", err)
	}
}
