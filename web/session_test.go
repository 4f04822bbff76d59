package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/reportstore"
)

// storeURLs returns the URL of an empty store of each backend: a SQLite
// file and a database of a real PostgreSQL server.
func storeURLs(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "reports.db") },
		"postgres": func(t *testing.T) string {
			return testservers.StartPostgres(t).NewDatabase(t)
		},
	}
}

// dashboardProcess is what one "mtasts serve" holds of the dashboard: its
// store and server, over a store URL and a session key file.
type dashboardProcess struct {
	store *reportstore.Store
	srv   *httptest.Server
}

// startDashboard opens the store at storeURL and serves the dashboard
// over it with the session key read from keyFile, as serve does.
func startDashboard(t *testing.T, storeURL, keyFile string) *dashboardProcess {
	t.Helper()
	s, err := reportstore.Open(context.Background(), storeURL, reportstore.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, newHandler(t, s, Options{Auth: Auth{Users: testAuth().Users, SessionKey: bytes.TrimSpace(key)}}))
	p := &dashboardProcess{store: s, srv: srv}
	t.Cleanup(p.stop)
	return p
}

// stop closes the server and the store.
func (p *dashboardProcess) stop() {
	p.srv.Close()
	p.store.Close()
}

// sessionCookieOf signs in on p and returns the session cookie.
func sessionCookieOf(t *testing.T, p *dashboardProcess) (*client, *http.Cookie) {
	t.Helper()
	c := newClient(t, p.srv)
	c.mustLogin()
	for _, ck := range c.http.Jar.Cookies(mustURL(t, p.srv.URL+testBase)) {
		if ck.Name == string(sessionCookie) {
			return c, ck
		}
	}
	t.Fatal("no session cookie after login")
	return nil, nil
}

// replay sends a page request to p with only the cookie and returns the
// status.
func replay(t *testing.T, p *dashboardProcess, ck *http.Cookie) int {
	t.Helper()
	c := newClient(t, p.srv)
	c.http.Jar.SetCookies(mustURL(t, p.srv.URL+testBase), []*http.Cookie{{Name: ck.Name, Value: ck.Value}})
	return c.get(testBase).StatusCode
}

// writeKeyFile writes a random session key file as an operator would
// (base64, with a newline) and returns its name.
func writeKeyFile(t *testing.T) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "session.key")
	if err := os.WriteFile(name, []byte(base64.StdEncoding.EncodeToString([]byte(rand.Text()+rand.Text()))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// signOut signs c out of p.
func signOut(t *testing.T, c *client) {
	t.Helper()
	r := c.post(testBase+"logout", url.Values{"csrf": {csrf(t, c.get(testBase).body)}})
	wantStatus(t, "sign-out", r, http.StatusOK)
}

// TestSignOutSurvivesRestart signs out, restarts the dashboard over the
// same store and session key file, and replays the signed-out cookie: it
// must be refused, while a session that did not sign out goes on.
func TestSignOutSurvivesRestart(t *testing.T) {
	for name, newURL := range storeURLs(t) {
		t.Run(name, func(t *testing.T) {
			storeURL, keyFile := newURL(t), writeKeyFile(t)
			first := startDashboard(t, storeURL, keyFile)
			c, out := sessionCookieOf(t, first)
			_, kept := sessionCookieOf(t, first)
			signOut(t, c)
			if got := replay(t, first, out); got != http.StatusUnauthorized {
				t.Errorf("signed-out cookie before the restart: status %d, want 401", got)
			}
			first.stop()

			again := startDashboard(t, storeURL, keyFile)
			if got := replay(t, again, out); got != http.StatusUnauthorized {
				t.Errorf("signed-out cookie after a restart: status %d, want 401", got)
			}
			if got := replay(t, again, kept); got != http.StatusOK {
				t.Errorf("a session that did not sign out, after a restart: status %d, want 200", got)
			}
		})
	}
}

// TestSignOutHoldsInEveryProcess runs two dashboards over one store and
// one session key, as several serve processes behind one name do: a
// session signed out on one is refused by the other.
func TestSignOutHoldsInEveryProcess(t *testing.T) {
	for name, newURL := range storeURLs(t) {
		t.Run(name, func(t *testing.T) {
			storeURL, keyFile := newURL(t), writeKeyFile(t)
			one, other := startDashboard(t, storeURL, keyFile), startDashboard(t, storeURL, keyFile)
			c, ck := sessionCookieOf(t, one)
			if got := replay(t, other, ck); got != http.StatusOK {
				t.Fatalf("a session of one process on the other: status %d, want 200", got)
			}
			signOut(t, c)
			if got := replay(t, other, ck); got != http.StatusUnauthorized {
				t.Errorf("a session signed out on one process, on the other: status %d, want 401", got)
			}
		})
	}
}

// brokenRevocations are revoked sessions that cannot be read (readErr)
// or recorded (writeErr), as when the database is down.
type brokenRevocations struct {
	readErr, writeErr error
}

func (b brokenRevocations) RevokeSession(context.Context, string, time.Time) error {
	return b.writeErr
}

func (b brokenRevocations) SessionRevoked(context.Context, string) (bool, error) {
	return false, b.readErr
}

// TestSessionWithoutRevocations checks that a session is refused, not
// let through, when the revoked sessions cannot be read, and that a
// sign-out that could not be recorded says so and keeps the cookie.
func TestSessionWithoutRevocations(t *testing.T) {
	d := newDashboard(t, Options{})
	c := newClient(t, startServer(t, d))
	c.mustLogin()
	page := c.get(testBase)
	wantStatus(t, "page", page, http.StatusOK)
	down := errors.New("database is down")

	d.auth.revoked = brokenRevocations{readErr: down}
	wantStatus(t, "page while the store cannot be read", c.get(testBase), http.StatusInternalServerError)

	d.auth.revoked = brokenRevocations{writeErr: down}
	r := c.post(testBase+"logout", url.Values{"csrf": {csrf(t, page.body)}})
	wantStatus(t, "sign-out while the store cannot be written", r, http.StatusServiceUnavailable)
	if len(r.Cookies()) != 0 || !strings.Contains(r.body, "could not be recorded") {
		t.Errorf("failed sign-out: cookies %v, page:\n%s", r.Cookies(), r.body)
	}
	wantStatus(t, "page after the failed sign-out", c.get(testBase), http.StatusOK)
}
