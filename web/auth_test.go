package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testclock"
)

func TestNewRefusesUnsafeOptions(t *testing.T) {
	s := openStore(t)
	good := testAuth()
	for name, o := range map[string]Options{
		"anonymous":        {},
		"not bcrypt":       {Auth: Auth{Users: []User{{Name: "bob", PasswordHash: "secret"}}}},
		"empty user":       {Auth: Auth{Users: []User{{Name: "", PasswordHash: testHash()}}}},
		"colon in user":    {Auth: Auth{Users: []User{{Name: "a:b", PasswordHash: testHash()}}}},
		"user twice":       {Auth: Auth{Users: []User{{Name: "bob", PasswordHash: testHash()}, {Name: "bob", PasswordHash: testHash()}}}},
		"short token":      {Auth: Auth{Tokens: []string{"short"}}},
		"token with space": {Auth: Auth{Tokens: []string{"0123456789 abcdef0123"}}},
		"short key":        {Auth: Auth{Tokens: []string{testToken}, SessionKey: []byte("0123456789")}},
		"relative base":    {Auth: good, BasePath: "dashboard/"},
		"base without /":   {Auth: good, BasePath: "/dashboard"},
		"pattern in base":  {Auth: good, BasePath: "/{x}/"},
	} {
		if _, err := New(s, o); err == nil {
			t.Errorf("%s: New accepted %+v", name, o)
		}
	}
	if _, err := New(nil, Options{Auth: good}); err == nil {
		t.Error("New accepted a nil store")
	}
	if _, err := New(s, Options{Auth: Auth{Tokens: []string{testToken}}}); err != nil {
		t.Errorf("token only: %v", err)
	}
}

// pagePaths are paths of every kind of page, for a store holding report
// and quarantine entry 1.
var pagePaths = []string{
	"", "?days=90", "domains/example.com", "domains/example.com?days=7", "reports", "reports?domain=example.com&failures=1",
	"reports/1", "reports/1/raw", "reports/1/download", "quarantine", "quarantine/1", "quarantine/1/download",
	"no/such/page", "reports/999",
}

func TestEveryPageNeedsAuthentication(t *testing.T) {
	s := filledStore(t, 50)
	addQuarantined(t, s, []byte("not a report"))
	srv := newServer(t, s, Options{})
	anon := newClient(t, srv)
	for _, p := range pagePaths {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			r := anon.do(method, testBase+p, nil)
			wantStatus(t, method+" "+p+" without credentials", r, http.StatusUnauthorized)
			if strings.Contains(r.body, "example.com") && !strings.Contains(r.body, `name="next"`) || strings.Contains(r.body, "Google") {
				t.Errorf("%s %s without credentials shows data:\n%s", method, p, r.body)
			}
			if method == http.MethodGet && !strings.Contains(r.body, `action="/dashboard/login"`) {
				t.Errorf("GET %s without credentials: no login form:\n%s", p, r.body)
			}
		}
	}
	bad := newClient(t, srv)
	for _, h := range []string{"Bearer wrong-token-0123456789", "bearer " + testToken[1:], "Bearer", "Bearer " + testToken + "x"} {
		bad.header.Set("Authorization", h)
		r := bad.get(testBase)
		wantStatus(t, "Authorization: "+h, r, http.StatusUnauthorized)
		if strings.Contains(r.body, "<form") {
			t.Errorf("a wrong token got the login form")
		}
	}
	// Basic authentication is a proxy's business: the dashboard still
	// asks for its own credentials.
	bad.header.Set("Authorization", "Basic "+testToken)
	if r := bad.get(testBase); r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, `action="/dashboard/login"`) {
		t.Errorf("with Basic authentication: %s\n%s", r.Status, r.body)
	}
	// The style sheet and the login form are public.
	style := anon.get(testBase + "static/style.css")
	wantStatus(t, "style sheet", style, http.StatusOK)
	if ct := style.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("style sheet Content-Type %q", ct)
	}
	wantStatus(t, "login form", anon.get(testBase+"login"), http.StatusOK)
	wantStatus(t, "unknown asset", anon.get(testBase+"static/nothing.js"), http.StatusNotFound)
}

func TestBearerToken(t *testing.T) {
	srv := newServer(t, filledStore(t, 50), Options{})
	c := newClient(t, srv)
	c.header.Set("Authorization", "Bearer "+testToken)
	for _, p := range pagePaths[:len(pagePaths)-2] {
		r := c.get(testBase + p)
		if r.StatusCode != http.StatusOK && !strings.HasPrefix(p, "quarantine/") {
			t.Errorf("GET %s with the token: %s", p, r.Status)
		}
	}
	if r := c.get(testBase); strings.Contains(r.body, "Sign out") || !strings.Contains(r.body, `id="signed-in-as">token<`) {
		t.Errorf("page for a token shows a sign-out form or no user:\n%s", r.body)
	}
	if len(c.http.Jar.Cookies(mustURL(t, srv.URL+testBase))) != 0 {
		t.Error("a bearer request got a cookie")
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestLoginAndLogout(t *testing.T) {
	var logs bytes.Buffer
	srv := newServer(t, filledStore(t, 50), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c := newClient(t, srv)
	next := testBase + "reports?domain=example.com"

	r := c.login(next, testUser, "wrong password")
	wantStatus(t, "wrong password", r, http.StatusUnauthorized)
	if !strings.Contains(r.body, "Wrong user name or password.") || !strings.Contains(r.body, `value="alice"`) {
		t.Errorf("wrong password page:\n%s", r.body)
	}
	wantStatus(t, "unknown user", c.login(next, "mallory", testPassword), http.StatusUnauthorized)
	wantStatus(t, "after failed logins", c.get(testBase), http.StatusUnauthorized)

	r = c.login(next, testUser, testPassword)
	wantStatus(t, "login", r, http.StatusOK)
	if !strings.Contains(r.body, `<meta http-equiv="refresh" content="0; url=/dashboard/reports?domain=example.com">`) {
		t.Errorf("login does not lead on to the page asked for:\n%s", r.body)
	}
	var session *http.Cookie
	for _, ck := range r.Cookies() {
		if ck.Name == "mtasts_session" {
			session = ck
		}
	}
	switch {
	case session == nil:
		t.Fatalf("no session cookie: %v", r.Cookies())
	case !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure || session.Path != testBase:
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over HTTP, Path %s", session, testBase)
	}
	page := c.get(next)
	wantStatus(t, "page after login", page, http.StatusOK)
	if !strings.Contains(page.body, `id="signed-in-as">alice<`) {
		t.Errorf("page does not show the user:\n%s", page.body)
	}

	// Signing out takes the session's own token.
	wantStatus(t, "logout without token", c.post(testBase+"logout", url.Values{}), http.StatusForbidden)
	other := newClient(t, srv)
	other.mustLogin()
	wantStatus(t, "logout with another session's token", c.post(testBase+"logout", url.Values{"csrf": {csrf(t, other.get(testBase).body)}}), http.StatusForbidden)
	r = c.post(testBase+"logout", url.Values{"csrf": {csrf(t, page.body)}})
	wantStatus(t, "logout", r, http.StatusOK)
	if !strings.Contains(r.body, "You have signed out.") {
		t.Errorf("logout page:\n%s", r.body)
	}
	wantStatus(t, "page after logout", c.get(next), http.StatusUnauthorized)

	// The old cookie, replayed, is revoked.
	replay := newClient(t, srv)
	replay.http.Jar.SetCookies(mustURL(t, srv.URL+testBase), []*http.Cookie{{Name: session.Name, Value: session.Value}})
	wantStatus(t, "replayed cookie after logout", replay.get(testBase), http.StatusUnauthorized)
	wantStatus(t, "the other session", other.get(testBase), http.StatusOK)

	for _, want := range []string{`msg="dashboard: login failed" user=alice`, `msg="dashboard: signed in" user=alice`, `msg="dashboard: signed out" user=alice`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), testPassword) || strings.Contains(logs.String(), "wrong password") {
		t.Errorf("log shows a password:\n%s", logs.String())
	}
}

func TestTokenLogin(t *testing.T) {
	srv := newServer(t, filledStore(t, 20), Options{Auth: Auth{Tokens: []string{testToken}}})
	c := newClient(t, srv)
	form := c.get(testBase)
	if strings.Contains(form.body, `name="user"`) || !strings.Contains(form.body, "Access token") {
		t.Errorf("token-only login form:\n%s", form.body)
	}
	r := c.login(testBase, "", "not-the-token-at-all")
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "Wrong access token.") {
		t.Errorf("wrong token: %s\n%s", r.Status, r.body)
	}
	wantStatus(t, "token login", c.login(testBase, "", testToken), http.StatusOK)
	wantStatus(t, "page after token login", c.get(testBase+"reports"), http.StatusOK)
}

func TestCrossSiteForms(t *testing.T) {
	srv := newServer(t, filledStore(t, 20), Options{})
	c := newClient(t, srv)
	// A form posted from another site has neither the login cookie nor
	// its token.
	stranger := newClient(t, srv)
	r := stranger.post(testBase+"login", url.Values{"user": {testUser}, "password": {testPassword}, "csrf": {"forged"}})
	wantStatus(t, "login without the form's token", r, http.StatusForbidden)
	if !strings.Contains(r.body, "The login form had expired") {
		t.Errorf("page:\n%s", r.body)
	}
	c.header.Set("Sec-Fetch-Site", "cross-site")
	wantStatus(t, "cross-site login", c.login(testBase, testUser, testPassword), http.StatusForbidden)
	c.header.Del("Sec-Fetch-Site")
	c.mustLogin()
	token := csrf(t, c.get(testBase).body)
	c.header.Set("Origin", "https://evil.example")
	wantStatus(t, "logout from another origin", c.post(testBase+"logout", url.Values{"csrf": {token}}), http.StatusForbidden)
	c.header.Del("Origin")
	wantStatus(t, "still signed in", c.get(testBase), http.StatusOK)
}

func TestSecureCookieOverTLS(t *testing.T) {
	srv := httptest.NewTLSServer(newHandler(t, filledStore(t, 20), Options{}))
	defer srv.Close()
	c := newClient(t, srv)
	r := c.login(testBase, testUser, testPassword)
	wantStatus(t, "login over TLS", r, http.StatusOK)
	var names []string
	for _, ck := range r.Cookies() {
		names = append(names, ck.Name)
		if ck.Name == "__Host-mtasts_session" && (!ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.SameSite != http.SameSiteStrictMode) {
			t.Errorf("session cookie over TLS: %+v", ck)
		}
	}
	if !strings.Contains(strings.Join(names, " "), "__Host-mtasts_session") {
		t.Errorf("cookies over TLS: %v", names)
	}
	wantStatus(t, "page over TLS", c.get(testBase), http.StatusOK)
}

func TestSessionEndsWithItsCredential(t *testing.T) {
	s := filledStore(t, 20)
	key := bytes.Repeat([]byte{7}, 32)
	clk := testclock.New(testNow)
	srv := newServer(t, s, Options{Auth: Auth{Users: testAuth().Users, SessionKey: key, SessionLifetime: time.Hour}, Now: clk.Now})
	c := newClient(t, srv)
	c.mustLogin()
	cookies := c.http.Jar.Cookies(mustURL(t, srv.URL+testBase))

	// Another process with the same key and users accepts the session...
	same := newServer(t, s, Options{Auth: Auth{Users: testAuth().Users, SessionKey: key}, Now: clk.Now})
	// ...one where the password changed does not...
	changed := newServer(t, s, Options{Auth: Auth{Users: []User{{Name: testUser, PasswordHash: "$2a$04$" + strings.Repeat("A", 53)}}, SessionKey: key}, Now: clk.Now})
	// ...nor one with another key.
	otherKey := newServer(t, s, Options{Auth: Auth{Users: testAuth().Users, SessionKey: bytes.Repeat([]byte{8}, 32)}, Now: clk.Now})
	for _, c := range []struct {
		srv  *httptest.Server
		want int
	}{{same, http.StatusOK}, {changed, http.StatusUnauthorized}, {otherKey, http.StatusUnauthorized}} {
		cl := newClient(t, c.srv)
		cl.http.Jar.SetCookies(mustURL(t, c.srv.URL+testBase), cookies)
		wantStatus(t, "session on "+c.srv.URL, cl.get(testBase), c.want)
	}

	clk.Advance(59 * time.Minute)
	wantStatus(t, "session before it expires", c.get(testBase), http.StatusOK)
	clk.Advance(2 * time.Minute)
	wantStatus(t, "expired session", c.get(testBase), http.StatusUnauthorized)
}

func TestTooManyFailedLogins(t *testing.T) {
	clk := testclock.New(testNow)
	srv := newServer(t, filledStore(t, 20), Options{Now: clk.Now})
	c := newClient(t, srv)
	for range defaultLoginsPerClient {
		wantStatus(t, "wrong password", c.login(testBase, testUser, "guess"), http.StatusUnauthorized)
	}
	r := c.login(testBase, testUser, testPassword)
	wantStatus(t, "login after too many failures", r, http.StatusTooManyRequests)
	clk.Advance(defaultLoginWindow)
	wantStatus(t, "login after the window", c.login(testBase, testUser, testPassword), http.StatusOK)
}

func TestSafeNext(t *testing.T) {
	d := &dashboard{base: "/dash/"}
	for next, want := range map[string]string{
		"/dash/":                       "/dash/",
		"/dash/reports?domain=a.b&x=1": "/dash/reports?domain=a.b&x=1",
		"/dash/domains/a.b#frag":       "/dash/domains/a.b",
		"":                             "/dash/",
		"//evil.example/dash/":         "/dash/",
		"https://evil.example/dash/":   "/dash/",
		"javascript:alert(1)":          "/dash/",
		"/other/":                      "/dash/",
		"/dash/../admin":               "/dash/",
		"/dash/login":                  "/dash/",
		"/dash/logout":                 "/dash/",
		"/dash/\\evil":                 "/dash/",
		"/dash/x\r\nSet-Cookie: a=b":   "/dash/",
	} {
		if got := d.safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}
