package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

var dashboardCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// dashboardBrowser is a browser of the dashboard of a running serve: it
// keeps cookies and reaches the policy host of example.net at r.
type dashboardBrowser struct {
	t    *testing.T
	http *http.Client
}

func newDashboardBrowser(t *testing.T, w *testworld.World, r *serveRun) *dashboardBrowser {
	jar, _ := cookiejar.New(nil)
	return &dashboardBrowser{t: t, http: &http.Client{Jar: jar, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: w.RootCAs()},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, r.addr)
		},
	}}}
}

const dashboardURL = "https://mta-sts.example.net/dashboard/"

// do sends a GET, or a POST of form, and returns the status and the page.
func (b *dashboardBrowser) do(path string, form url.Values) (int, string) {
	b.t.Helper()
	var resp *http.Response
	var err error
	if form == nil {
		resp, err = b.http.Get(dashboardURL + path)
	} else {
		resp, err = b.http.PostForm(dashboardURL+path, form)
	}
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.StatusCode, string(page)
}

// csrf returns the CSRF token of the form on the page at path.
func (b *dashboardBrowser) csrf(path string) string {
	b.t.Helper()
	_, page := b.do(path, nil)
	m := dashboardCSRF.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no form on %s:\n%.500s", path, page)
	}
	return m[1]
}

// TestServeSignOutSurvivesRestart signs in to the dashboard of a running
// serve with a session_key_file, signs out, restarts serve with the same
// configuration, and replays the old session cookie: it is refused.
func TestServeSignOutSurvivesRestart(t *testing.T) {
	w := testworld.New(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("a password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "session.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("k", 40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := serveConfig(t, w, "[serve.dashboard]\nenabled = true\nsession_key_file = \""+keyFile+"\"\n"+
		"[[serve.dashboard.user]]\nname = \"postmaster\"\npassword_hash = \""+string(hash)+"\"\n", "example.net")

	first := startServe(t, "--config", cfg)
	b := newDashboardBrowser(t, w, first)
	if code, page := b.do("login", url.Values{"csrf": {b.csrf("login")}, "user": {"postmaster"}, "password": {"a password"}}); code != http.StatusOK {
		t.Fatalf("login: %d\n%.500s", code, page)
	}
	u, _ := url.Parse(dashboardURL)
	cookies := b.http.Jar.Cookies(u)
	before := newDashboardBrowser(t, w, first)
	before.http.Jar.SetCookies(u, cookies)
	if code, page := before.do("", nil); code != http.StatusOK || !strings.Contains(page, "postmaster") {
		t.Fatalf("the session's cookies %v in another browser: %d\n%.500s", cookies, code, page)
	}
	if code, page := b.do("logout", url.Values{"csrf": {b.csrf("")}}); code != http.StatusOK || !strings.Contains(page, "signed out") {
		t.Fatalf("logout: %d\n%.500s", code, page)
	}
	if code := first.stop(); code != 0 {
		t.Fatalf("serve exited with %d:\n%s", code, first.stderr)
	}

	again := startServe(t, "--config", cfg)
	replay := newDashboardBrowser(t, w, again)
	replay.http.Jar.SetCookies(u, cookies)
	if code, page := replay.do("", nil); code != http.StatusUnauthorized || strings.Contains(page, "postmaster") {
		t.Errorf("the signed-out session after a restart: %d, want 401\n%.500s", code, page)
	}
}
