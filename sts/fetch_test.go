package sts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// worldOptions are FetchOptions that reach the world's hosts and trust its CA.
func worldOptions(w *testworld.World) FetchOptions {
	return FetchOptions{RootCAs: w.RootCAs(), DialContext: w.DialContext, Timeout: 10 * time.Second}
}

// fetchFails fetches domain and checks that the error is a *FetchError of
// stage; it returns both for further checks.
func fetchFails(t *testing.T, domain string, opts FetchOptions, stage string) (*Fetched, *FetchError) {
	t.Helper()
	f, err := FetchPolicy(context.Background(), domain, opts)
	var fe *FetchError
	if !errors.As(err, &fe) || !errors.Is(err, ErrPolicyFetch) {
		t.Fatalf("FetchPolicy(%s) error = %v, want a *FetchError", domain, err)
	}
	if fe.Stage != stage {
		t.Fatalf("FetchPolicy(%s) stage = %q (%v), want %q", domain, fe.Stage, err, stage)
	}
	if f == nil || f.URL != "https://mta-sts."+domain+PolicyPath {
		t.Fatalf("FetchPolicy(%s) returned Fetched %+v, want one with the URL", domain, f)
	}
	if f.Policy != nil {
		t.Errorf("Fetched.Policy set on error")
	}
	return f, fe
}

func TestFetchPolicyOK(t *testing.T) {
	t.Parallel()
	w := testworld.New(t)
	h := w.PolicyDomain("example.com", rfcExample)
	h.RequireSNI("mta-sts.example.com") // RFC 8461 §7.1: SNI must be sent
	f, err := FetchPolicy(context.Background(), "Example.com.", worldOptions(w))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ParsePolicy([]byte(rfcExample))
	if diff := cmp.Diff(want, f.Policy); diff != "" {
		t.Errorf("policy (-want +got):\n%s", diff)
	}
	if f.URL != "https://mta-sts.example.com/.well-known/mta-sts.txt" || f.Status != 200 ||
		f.ContentType != "text/plain" || string(f.Body) != rfcExample || f.Duration <= 0 {
		t.Errorf("Fetched = %+v", f)
	}
	if f.TLS == nil || f.TLS.ServerName != "mta-sts.example.com" || f.TLS.Version < tls.VersionTLS12 || len(f.TLS.VerifiedChains) == 0 {
		t.Errorf("TLS state %+v: want a verified TLS 1.2+ connection to mta-sts.example.com", f.TLS)
	}
	if f.Warnings != nil {
		t.Errorf("warnings %v", f.Warnings)
	}
}

func TestFetchPolicyHTTP(t *testing.T) {
	t.Parallel()
	w := testworld.New(t)
	policy := []byte(rfcExample)
	big := []byte(rfcExample + strings.Repeat("x-pad: "+strings.Repeat("p", 90)+"\n", 700)) // > 64 KiB
	tests := []struct {
		name   string
		resp   testworld.Response
		opts   func(*FetchOptions)
		stage  string // "" for success
		status int
	}{
		{name: "RFC 8461 §3.3: 404", resp: testworld.Response{Status: 404, Body: []byte("not found")}, stage: StageStatus, status: 404},
		{name: "RFC 8461 §3.3: 500", resp: testworld.Response{Status: 500}, stage: StageStatus, status: 500},
		{name: "RFC 8461 §3.3: 204", resp: testworld.Response{Status: 204}, stage: StageStatus, status: 204},
		{name: "RFC 8461 §3.3: 301 refused", resp: testworld.Response{Status: 301, Redirect: "https://mta-sts.target.example/.well-known/mta-sts.txt"}, stage: StageRedirect, status: 301},
		{name: "RFC 8461 §3.3: 302 refused", resp: testworld.Response{Status: 302, Redirect: "https://mta-sts.target.example/.well-known/mta-sts.txt"}, stage: StageRedirect, status: 302},
		{name: "RFC 8461 §3.3: 307 refused", resp: testworld.Response{Status: 307, Redirect: "/elsewhere.txt"}, stage: StageRedirect, status: 307},
		{name: "RFC 8461 §3.3: 308 refused", resp: testworld.Response{Status: 308, Redirect: "https://mta-sts.target.example/.well-known/mta-sts.txt"}, stage: StageRedirect, status: 308},
		{name: "RFC 8461 §3.2: text/html refused", resp: testworld.Response{Header: http.Header{"Content-Type": {"text/html"}}, Body: policy}, stage: StageContentType, status: 200},
		{name: "RFC 8461 §3.2: application/octet-stream refused", resp: testworld.Response{Header: http.Header{"Content-Type": {"application/octet-stream"}}, Body: policy}, stage: StageContentType, status: 200},
		{name: "RFC 8461 §3.2: no Content-Type refused", resp: testworld.Response{Header: http.Header{"Content-Type": nil}, Body: policy}, stage: StageContentType, status: 200},
		{name: "RFC 8461 §3.2: charset parameter ignored", resp: testworld.Response{Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, Body: policy}},
		{name: "RFC 8461 §3.2: media type case-insensitive, odd parameters ignored", resp: testworld.Response{Header: http.Header{"Content-Type": {"Text/Plain ;charset=US-ASCII; foo"}}, Body: policy}},
		{name: "RFC 8461 §3.3: chunked body", resp: testworld.Response{Body: policy, Chunked: true}},
		{name: "RFC 8461 §3.3: over 64 KiB with Content-Length", resp: testworld.Response{Body: big}, stage: StageSize, status: 200},
		{name: "RFC 8461 §3.3: over 64 KiB chunked", resp: testworld.Response{Body: big, Chunked: true}, stage: StageSize, status: 200},
		{name: "RFC 8461 §3.3: over a custom limit", resp: testworld.Response{Body: policy, Chunked: true}, opts: func(o *FetchOptions) { o.MaxBytes = 100 }, stage: StageSize, status: 200},
		{name: "RFC 8461 §3.3: exactly the limit", resp: testworld.Response{Body: policy, Chunked: true}, opts: func(o *FetchOptions) { o.MaxBytes = int64(len(policy)) }},
		{name: "RFC 8461 §3.3: slow headers time out", resp: testworld.Response{Body: policy, Delay: 5 * time.Second}, opts: func(o *FetchOptions) { o.Timeout = 300 * time.Millisecond }, stage: StageTimeout},
		{name: "RFC 8461 §3.3: stalled body times out", resp: testworld.Response{Body: policy, Stall: 5 * time.Second}, opts: func(o *FetchOptions) { o.Timeout = 300 * time.Millisecond }, stage: StageTimeout, status: 200},
	}
	target := w.PolicyDomain("target.example", rfcExample)
	for i, tc := range tests {
		domain := "d" + string(rune('a'+i)) + ".example"
		w.HTTPSHost("mta-sts."+domain).Set(PolicyPath, tc.resp)
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := worldOptions(w)
			if tc.opts != nil {
				tc.opts(&opts)
			}
			if tc.stage == "" {
				f, err := FetchPolicy(context.Background(), domain, opts)
				if err != nil || f.Policy == nil {
					t.Fatalf("FetchPolicy: %v", err)
				}
				return
			}
			f, fe := fetchFails(t, domain, opts, tc.stage)
			if f.Status != tc.status || fe.StatusCode != tc.status {
				t.Errorf("status %d / %d, want %d", f.Status, fe.StatusCode, tc.status)
			}
			if tc.stage == StageRedirect && (fe.Location != tc.resp.Redirect || !strings.Contains(fe.Error(), tc.resp.Redirect)) {
				t.Errorf("redirect error %v lacks Location %q", fe, tc.resp.Redirect)
			}
			limit := opts.MaxBytes
			if limit == 0 {
				limit = DefaultMaxBytes
			}
			if tc.stage == StageSize && int64(len(f.Body)) > limit {
				t.Errorf("body of %d bytes kept", len(f.Body))
			}
			if tc.stage == StageTimeout && !errors.Is(fe, context.DeadlineExceeded) {
				t.Errorf("timeout error %v is not context.DeadlineExceeded", fe)
			}
		})
	}
	t.Cleanup(func() {
		if n := target.Requests(PolicyPath); n != 0 {
			t.Errorf("redirect target was fetched %d times", n)
		}
	})
}

func TestFetchPolicyCertificates(t *testing.T) {
	t.Parallel()
	w := testworld.New(t)
	rogue := testworld.NewCA(t, "rogue")
	tests := []struct {
		name  string
		cert  func(host string) *tls.Certificate
		now   func() time.Time
		check func(error) bool
	}{
		{"RFC 8461 §3.3: expired", func(h string) *tls.Certificate { return w.CA.Expired(t, h) }, nil, isCertInvalid(x509.Expired)},
		{"RFC 8461 §3.3: not yet valid", func(h string) *tls.Certificate { return w.CA.NotYetValid(t, h) }, nil, isCertInvalid(x509.Expired)},
		{"RFC 8461 §3.3: valid now but not at the injected clock", func(h string) *tls.Certificate { return w.CA.Valid(t, h) },
			func() time.Time { return time.Now().Add(200 * 24 * time.Hour) }, isCertInvalid(x509.Expired)},
		{"RFC 6125: wrong name", func(string) *tls.Certificate { return w.CA.Valid(t, "wrong.example") }, nil, isAs[x509.HostnameError]},
		{"RFC 6125: wildcard one level too high", func(string) *tls.Certificate { return w.CA.Valid(t, "*.example") }, nil, isAs[x509.HostnameError]},
		{"RFC 6125: common name only is not enough", func(h string) *tls.Certificate {
			return w.CA.Issue(t, testworld.CertOptions{CommonName: h})
		}, nil, isAs[x509.HostnameError]},
		{"RFC 8461 §3.3: unknown CA", func(h string) *tls.Certificate { return rogue.Valid(t, h) }, nil, isAs[x509.UnknownAuthorityError]},
		{"RFC 8461 §3.3: self-signed", func(h string) *tls.Certificate { return testworld.SelfSigned(t, h) }, nil, isAs[x509.UnknownAuthorityError]},
	}
	for i, tc := range tests {
		domain := "c" + string(rune('a'+i)) + ".example"
		host := "mta-sts." + domain
		w.PolicyDomain(domain, rfcExample).SetCert(tc.cert(host))
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := worldOptions(w)
			opts.Now = tc.now
			_, fe := fetchFails(t, domain, opts, StageTLS)
			if !tc.check(fe) {
				t.Errorf("error %v (%T) is not the expected certificate error", fe, fe.Err)
			}
		})
	}
	// A wildcard as the whole left-most label is accepted (RFC 6125 §6.4.3).
	w.PolicyDomain("wild.example", rfcExample).SetCert(w.CA.Valid(t, "*.wild.example"))
	if _, err := FetchPolicy(context.Background(), "wild.example", worldOptions(w)); err != nil {
		t.Errorf("wildcard certificate: %v", err)
	}
}

func isCertInvalid(reason x509.InvalidReason) func(error) bool {
	return func(err error) bool {
		var ce x509.CertificateInvalidError
		return errors.As(err, &ce) && ce.Reason == reason
	}
}

func isAs[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

func TestFetchPolicyNetwork(t *testing.T) {
	t.Parallel()
	w := testworld.New(t)
	// RFC 8461 §3.3: no A record for the policy host.
	w.DNS.TXT("_mta-sts.noa.example", "v=STSv1; id=1;")
	f, fe := fetchFails(t, "noa.example", worldOptions(w), StageDNS)
	if f.Status != 0 || f.TLS != nil {
		t.Errorf("Fetched %+v after a DNS failure", f)
	}
	if de := (*net.DNSError)(nil); !errors.As(fe, &de) || !de.IsNotFound {
		t.Errorf("DNS error %v does not unwrap to a not-found *net.DNSError", fe)
	}
	// A DNS failure resolving the policy host is a dns stage too.
	w.DNS.SetRcode("mta-sts.servfail.example", dns.TypeA, dns.RcodeServerFailure)
	fetchFails(t, "servfail.example", worldOptions(w), StageDNS)
	// An address without a listener.
	w.HostIP("mta-sts.refused.example")
	_, fe = fetchFails(t, "refused.example", worldOptions(w), StageConnect)
	if fe.Err == nil {
		t.Error("connect error without cause")
	}
	// A domain that is no domain is not fetched at all.
	if _, err := FetchPolicy(context.Background(), "192.0.2.1", worldOptions(w)); !errors.Is(err, ErrInvalidDomain) {
		t.Errorf("IP address: error %v, want ErrInvalidDomain", err)
	}
}

func TestFetchPolicySyntaxError(t *testing.T) {
	t.Parallel()
	w := testworld.New(t)
	body := "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 31557601\n"
	w.PolicyDomain("example.com", body)
	f, err := FetchPolicy(context.Background(), "example.com", worldOptions(w))
	var se *SyntaxError
	if !errors.Is(err, ErrPolicySyntax) || !errors.As(err, &se) || se.Line != 4 {
		t.Fatalf("error %v, want a *SyntaxError on line 4", err)
	}
	if errors.Is(err, ErrPolicyFetch) {
		t.Errorf("syntax error %v is also ErrPolicyFetch", err)
	}
	if f == nil || string(f.Body) != body || f.Status != 200 || f.Policy != nil {
		t.Errorf("Fetched = %+v, want the body and status", f)
	}
}

// TestFetchPolicyRequest checks what is sent: no cookies, no caching, the
// user agent, and a fresh request every time (RFC 8461 §3.3).
func TestFetchPolicyRequest(t *testing.T) {
	t.Parallel()
	w := testworld.New(t)
	h := w.PolicyDomain("example.com", rfcExample)
	var mu sync.Mutex
	var got []http.Header
	h.SetHandler(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		http.SetCookie(rw, &http.Cookie{Name: "session", Value: "1"})
		rw.Header().Set("Cache-Control", "max-age=86400")
		rw.Header().Set("Content-Type", "text/plain")
		rw.Write([]byte(rfcExample))
	}))
	opts := worldOptions(w)
	opts.UserAgent = "sts-test/1"
	jar := &recordingJar{}
	opts.HTTPClient = &http.Client{Jar: jar, Transport: w.HTTPClient().Transport}
	for range 2 {
		if _, err := FetchPolicy(context.Background(), "example.com", opts); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.Requests(PolicyPath); n != 2 {
		t.Errorf("%d requests, want 2 (no caching)", n)
	}
	for i, hd := range got {
		if hd.Get("Cache-Control") != "no-cache" || hd.Get("User-Agent") != "sts-test/1" || hd.Get("Cookie") != "" {
			t.Errorf("request %d headers %v", i, hd)
		}
	}
	if jar.used {
		t.Error("the client's cookie jar was used")
	}
}

type recordingJar struct{ used bool }

func (j *recordingJar) SetCookies(*url.URL, []*http.Cookie) { j.used = true }
func (j *recordingJar) Cookies(*url.URL) []*http.Cookie     { j.used = true; return nil }

// TestFetchPolicyHTTPClient checks that a caller's HTTP client cannot turn
// off the rules of RFC 8461 §3.3.
func TestFetchPolicyHTTPClient(t *testing.T) {
	t.Parallel()
	w := testworld.New(t)
	w.PolicyDomain("good.example", rfcExample)
	w.PolicyDomain("self.example", rfcExample).SetCert(testworld.SelfSigned(t, "mta-sts.self.example"))
	w.HTTPSHost("mta-sts.redir.example").Set(PolicyPath, testworld.Response{Redirect: "https://mta-sts.good.example" + PolicyPath})
	insecure := &http.Transport{DialContext: w.DialContext, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	following := &http.Client{Transport: w.HTTPClient().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}

	opts := FetchOptions{HTTPClient: w.HTTPClient()}
	if _, err := FetchPolicy(context.Background(), "good.example", opts); err != nil {
		t.Errorf("world client: %v", err)
	}
	opts = FetchOptions{HTTPClient: &http.Client{Transport: insecure}, RootCAs: w.RootCAs()}
	fetchFails(t, "self.example", opts, StageTLS)
	opts = FetchOptions{HTTPClient: &http.Client{Transport: wrapped{insecure}}, RootCAs: w.RootCAs()}
	_, fe := fetchFails(t, "self.example", opts, StageTLS)
	if !isAs[x509.UnknownAuthorityError](fe) {
		t.Errorf("re-verification error %v", fe)
	}
	fetchFails(t, "redir.example", FetchOptions{HTTPClient: following}, StageRedirect)
}

// wrapped hides an *http.Transport behind another RoundTripper.
type wrapped struct{ rt http.RoundTripper }

func (w wrapped) RoundTrip(r *http.Request) (*http.Response, error) { return w.rt.RoundTrip(r) }

// TestFetchPolicyIgnoresProxyEnvironment checks that HTTPS_PROXY is not
// used: the policy host is reached directly.
func TestFetchPolicyIgnoresProxyEnvironment(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	t.Setenv("https_proxy", "http://127.0.0.1:1")
	w := testworld.New(t)
	w.PolicyDomain("example.com", rfcExample)
	if _, err := FetchPolicy(context.Background(), "example.com", worldOptions(w)); err != nil {
		t.Fatal(err)
	}
	// ProxyFromEnvironment reads the environment once per process, so
	// check the transport as well.
	opts := worldOptions(w)
	rt, _ := opts.roundTripper("mta-sts.example.com")
	if tr, ok := rt.(*http.Transport); !ok || tr.Proxy != nil {
		t.Errorf("transport %#v uses a proxy", rt)
	}
}

func TestCheckTLSVersion(t *testing.T) {
	var o FetchOptions
	for _, cs := range []*tls.ConnectionState{nil, {Version: tls.VersionTLS11}, {Version: tls.VersionTLS13}} {
		if err := o.checkTLS(cs, "mta-sts.example.com"); err == nil {
			t.Errorf("checkTLS(%+v) accepted", cs)
		}
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	w := testworld.New(t)
	r := worldResolver(w)
	h := w.PolicyDomain("example.com", rfcExample)
	rec, f, err := Get(context.Background(), r, "example.com", worldOptions(w))
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID != w.PolicyID("example.com") || f.Policy == nil || f.Policy.Mode != ModeEnforce {
		t.Errorf("Get = %+v, %+v", rec, f)
	}

	// RFC 8461 §3.1: without a record there is no fetch.
	w.HTTPSHost("mta-sts.norecord.example").Set(PolicyPath, testworld.Response{Body: []byte(rfcExample)})
	rec, f, err = Get(context.Background(), r, "norecord.example", worldOptions(w))
	if !errors.Is(err, ErrNoRecord) || rec != nil || f != nil {
		t.Errorf("no record: %v, %v, %v", rec, f, err)
	}
	if n := w.HTTPSHost("mta-sts.norecord.example").Requests(PolicyPath); n != 0 {
		t.Errorf("policy fetched %d times without a record", n)
	}

	// RFC 8461 §5.1: a DNS failure is reported as such.
	w.DNS.SetRcode("_mta-sts.example.com", dns.TypeTXT, dns.RcodeServerFailure)
	if _, _, err = Get(context.Background(), r, "example.com", worldOptions(w)); !errors.Is(err, ErrDNS) || errors.Is(err, ErrNoRecord) {
		t.Errorf("SERVFAIL: %v, want ErrDNS", err)
	}
	w.DNS.SetRcode("_mta-sts.example.com", dns.TypeTXT, dns.RcodeSuccess)

	// RFC 8461 §3.3: a record but a failed fetch gives the record and the error.
	h.SetCert(w.CA.Expired(t, "mta-sts.example.com"))
	rec, f, err = Get(context.Background(), r, "example.com", worldOptions(w))
	if !errors.Is(err, ErrPolicyFetch) || rec == nil || f == nil {
		t.Errorf("failed fetch: %v, %v, %v", rec, f, err)
	}
}
