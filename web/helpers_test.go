package web

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/web/webtest"
)

// testNow is the clock of the tests: the generated reports end the day
// before.
var testNow = time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)

const (
	testUser     = "alice"
	testPassword = "correct horse battery staple"
	testToken    = "tok_0123456789abcdef0123"
	testBase     = "/dashboard/"
)

// testHash is the bcrypt hash of testPassword, at the lowest cost so that
// tests run fast.
var testHash = sync.OnceValue(func() string {
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
})

// testAuth lets testUser in with testPassword, and testToken.
func testAuth() Auth {
	return Auth{Users: []User{{Name: testUser, PasswordHash: testHash()}}, Tokens: []string{testToken}}
}

// openStore returns an empty SQLite store in a temporary directory.
func openStore(t testing.TB) *reportstore.Store {
	t.Helper()
	s, err := reportstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "reports.db"),
		reportstore.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// filledStore returns a store with n generated reports up to the day
// before testNow.
func filledStore(t testing.TB, n int) *reportstore.Store {
	t.Helper()
	s := openStore(t)
	if _, err := webtest.Fill(context.Background(), s, webtest.Options{Reports: n, End: testNow.AddDate(0, 0, -1)}); err != nil {
		t.Fatal(err)
	}
	return s
}

// newHandler returns the dashboard over s at testBase; o's zero fields
// get the test defaults.
func newHandler(t testing.TB, s *reportstore.Store, o Options) http.Handler {
	t.Helper()
	if o.Auth.Users == nil && o.Auth.Tokens == nil {
		o.Auth = testAuth()
	}
	if o.BasePath == "" {
		o.BasePath = testBase
	}
	if o.Now == nil {
		o.Now = func() time.Time { return testNow }
	}
	h, err := New(s, o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newServer starts newHandler(t, s, o) on a loopback HTTP server.
func newServer(t testing.TB, s *reportstore.Store, o Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(newHandler(t, s, o))
	t.Cleanup(srv.Close)
	return srv
}

// client is a browser-like HTTP client: it keeps cookies, does not follow
// redirects (the dashboard must not send any) and can sign in.
type client struct {
	t    testing.TB
	base string // the server's URL
	http *http.Client
	// header is added to every request.
	header http.Header
	// host, if set, is the Host of every request.
	host string
}

func newClient(t testing.TB, srv *httptest.Server) *client {
	jar, _ := cookiejar.New(nil)
	hc := *srv.Client() // a copy: the server's client is shared
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: t, base: srv.URL, http: &hc, header: http.Header{}}
}

// response is a response with its body read.
type response struct {
	*http.Response
	body string
}

func (c *client) do(method, path string, form url.Values) response {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if c.host != "" {
		req.Host = c.host
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		c.t.Errorf("%s %s: redirect %s to %q", method, path, resp.Status, resp.Header.Get("Location"))
	}
	return response{resp, string(b)}
}

func (c *client) get(path string) response { return c.do(http.MethodGet, path, nil) }

func (c *client) post(path string, form url.Values) response {
	return c.do(http.MethodPost, path, form)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the form in a page.
func csrf(t testing.TB, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", page)
	}
	return m[1]
}

// login signs in with user and password (or a token with user "") from
// the login form of the page at next, and returns the answer.
func (c *client) login(next, user, password string) response {
	c.t.Helper()
	form := c.get(next)
	return c.post(testBase+"login", url.Values{"csrf": {csrf(c.t, form.body)}, "next": {next}, "user": {user}, "password": {password}})
}

// mustLogin signs in as the test user.
func (c *client) mustLogin() {
	c.t.Helper()
	if r := c.login(testBase, testUser, testPassword); r.StatusCode != http.StatusOK {
		c.t.Fatalf("login: %s\n%s", r.Status, r.body)
	}
}

// wantStatus fails the test unless r has status code.
func wantStatus(t testing.TB, what string, r response, code int) {
	t.Helper()
	if r.StatusCode != code {
		t.Errorf("%s: status %s, want %d\n%.2000s", what, r.Status, code, r.body)
	}
}

// addQuarantined puts raw into the quarantine of s.
func addQuarantined(t testing.TB, s *reportstore.Store, raw []byte) int64 {
	t.Helper()
	r, err := s.Add(context.Background(), &reportstore.Submission{Raw: raw, RawType: "application/tlsrpt+json",
		Reason: "tlsrpt report: is not valid JSON", Source: reportstore.SourceHTTPS, Origin: "198.51.100.9"})
	if err != nil || r.Outcome != reportstore.Quarantined {
		t.Fatalf("quarantining: %+v, %v", r, err)
	}
	return r.ID
}
