package web

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mtasts/mtasts/internal/testenv/testclock"
)

// checkCounter counts the password checks of a dashboard and the most
// that ran at once.
type checkCounter struct {
	checks, running, most atomic.Int32
}

// watch makes d's password checks go through c.
func (c *checkCounter) watch(d *dashboard) {
	compare := d.auth.compare
	d.auth.compare = func(hash, password []byte) error {
		c.checks.Add(1)
		n := c.running.Add(1)
		defer c.running.Add(-1)
		for m := c.most.Load(); n > m && !c.most.CompareAndSwap(m, n); m = c.most.Load() {
		}
		return compare(hash, password)
	}
}

// newDashboard returns newHandler over an empty store as a *dashboard.
func newDashboard(t *testing.T, o Options) *dashboard {
	t.Helper()
	return newHandler(t, openStore(t), o).(*dashboard)
}

// startServer starts h on a loopback HTTP server.
func startServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// loginForm returns the form values of a login as user with password,
// from the login form c got; c keeps the form's cookie.
func loginForm(t *testing.T, c *client, user, password string) url.Values {
	t.Helper()
	return url.Values{"csrf": {csrf(t, c.get(testBase+"login").body)}, "next": {testBase}, "user": {user}, "password": {password}}
}

// postLogin posts a login form with c, from any goroutine, and returns
// the status and whether a session cookie came back.
func postLogin(c *client, form url.Values) (status int, session bool, err error) {
	req, err := http.NewRequest(http.MethodPost, c.base+testBase+"login", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, false, err
	}
	resp.Body.Close()
	if tr, _ := c.http.Transport.(*http.Transport); tr != nil && tr.ForceAttemptHTTP2 && resp.ProtoMajor != 2 {
		return 0, false, fmt.Errorf("login answered over %s, want HTTP/2", resp.Proto)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s <= 0 {
			return 0, false, fmt.Errorf("429 with Retry-After %q, want seconds", resp.Header.Get("Retry-After"))
		}
	}
	for _, ck := range resp.Cookies() {
		if strings.HasSuffix(ck.Name, string(sessionCookie)) && ck.Value != "" {
			session = true
		}
	}
	return resp.StatusCode, session, nil
}

// TestLoginBurstOverHTTP2 attacks the login form as a prober did: 300
// guesses of alice's password sent at once as streams of one HTTP/2
// connection over TLS, the right password among them sent as soon as the
// server refuses one. Each attempt must count before its password is
// checked, so that no more than the limit are checked, whatever the
// concurrency, and the right password then does not get in.
func TestLoginBurstOverHTTP2(t *testing.T) {
	// A slower hash than the other tests': every guess is on the wire
	// before the first check ends.
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), 8)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	d := newDashboard(t, Options{Auth: Auth{Users: []User{{Name: testUser, PasswordHash: string(hash)}}},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	var counter checkCounter
	counter.watch(d)

	srv := httptest.NewUnstartedServer(d)
	srv.EnableHTTP2 = true
	srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 400}
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := newClient(t, srv)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = true
	tr.HTTP2 = &http.HTTP2Config{StrictMaxConcurrentRequests: true}
	c.http.Transport = tr

	const guesses = 300
	wrong := loginForm(t, c, testUser, "")
	type answer struct {
		status  int
		session bool
		err     error
	}
	answers := make(chan answer, guesses)
	var wg sync.WaitGroup
	for i := range guesses - 1 {
		form := url.Values{}
		for k, v := range wrong {
			form[k] = v
		}
		form.Set("password", "guess "+strconv.Itoa(i))
		wg.Go(func() {
			status, session, err := postLogin(c, form)
			answers <- answer{status, session, err}
		})
	}
	right := loginForm(t, c, testUser, testPassword)
	counts := map[int]int{}
	var rightSent bool
	sendRight := func() {
		rightSent = true
		wg.Go(func() {
			status, session, err := postLogin(c, right)
			if status != http.StatusTooManyRequests || session {
				t.Errorf("the right password, sent once the limit was reached: status %d, session cookie %v, %v", status, session, err)
			}
			answers <- answer{-status, session, err}
		})
	}
	for i := range guesses {
		a := <-answers
		if a.err != nil {
			t.Fatalf("guess: %v", a.err)
		}
		if a.session {
			t.Errorf("a guess got a session (status %d)", a.status)
		}
		counts[a.status]++
		if (a.status == http.StatusTooManyRequests || i == guesses-2) && !rightSent {
			sendRight()
		}
	}
	wg.Wait()

	if n := conns.Load(); n != 1 {
		t.Errorf("the guesses went over %d connections, want 1", n)
	}
	limit := defaultLoginsPerClient
	if checked := counts[http.StatusUnauthorized] + counts[http.StatusOK]; checked > limit || int(counter.checks.Load()) > limit {
		t.Errorf("%d passwords checked (answers %v), want at most %d", counter.checks.Load(), counts, limit)
	}
	if counts[http.StatusTooManyRequests] < guesses-1-limit {
		t.Errorf("%d guesses refused (answers %v), want at least %d", counts[http.StatusTooManyRequests], counts, guesses-1-limit)
	}
	if n := strings.Count(logs.String(), "login limit reached"); n != 1 {
		t.Errorf("the log says %d times that the limit was reached, want once:\n%s", n, logs.String())
	}
	if most := counter.most.Load(); int(most) > bcryptSlots() {
		t.Errorf("%d passwords checked at once, want at most %d", most, bcryptSlots())
	}
}

// TestLoginLimitPerUser guesses the password of one user name from many
// clients (loopback addresses) at once: the limit per user name holds for
// all of them together, and the user's right password is then refused
// from another client too, while an access token still signs in. A name
// that is no one's is limited alike, so the answers do not tell names of
// users from others.
func TestLoginLimitPerUser(t *testing.T) {
	for _, name := range []string{testUser, "mallory"} {
		t.Run(name, func(t *testing.T) {
			d := newDashboard(t, Options{Auth: Auth{Users: testAuth().Users, Tokens: []string{testToken},
				Limits: LoginLimits{PerClient: 3, PerUser: 5}}})
			var counter checkCounter
			counter.watch(d)
			srv := startServer(t, d)

			const clients, each = 8, 3
			statuses := make(chan int, clients*each)
			var wg sync.WaitGroup
			for i := range clients {
				c := clientFrom(t, srv, 2+i)
				form := loginForm(t, c, name, "guess")
				for range each {
					wg.Go(func() {
						status, _, err := postLogin(c, form)
						if err != nil {
							t.Error(err)
						}
						statuses <- status
					})
				}
			}
			wg.Wait()
			close(statuses)
			counts := map[int]int{}
			for s := range statuses {
				counts[s]++
			}
			if counts[http.StatusUnauthorized] != 5 || counts[http.StatusTooManyRequests] != clients*each-5 || counter.checks.Load() != 5 {
				t.Errorf("answers %v after %d checks; want 5 checked and refused, the rest refused", counts, counter.checks.Load())
			}

			late := clientFrom(t, srv, 100)
			r := late.login(testBase, name, testPassword)
			wantStatus(t, "the right password from another client", r, http.StatusTooManyRequests)
			if !strings.Contains(r.body, "Too many failed logins") || !strings.Contains(r.body, "Try again in 15 minutes.") || r.Header.Get("Retry-After") != "900" {
				t.Errorf("refused login: Retry-After %q, page:\n%s", r.Header.Get("Retry-After"), r.body)
			}
			wantStatus(t, "a token login from that client", late.login(testBase, "", testToken), http.StatusOK)
		})
	}
}

// clientFrom returns a client of srv whose connections come from
// 127.0.0.host.
func clientFrom(t *testing.T, srv *httptest.Server, host int) *client {
	t.Helper()
	c := newClient(t, srv)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(host))}}
	tr.DialContext = dialer.DialContext
	c.http.Transport = tr
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

// TestLoginLimitWindow checks that the limit holds in any period of one
// window, not per fixed period, and that a right password gives its place
// back.
func TestLoginLimitWindow(t *testing.T) {
	clk := testclock.New(testNow)
	srv := newServer(t, openStore(t), Options{Now: clk.Now, Auth: Auth{Users: testAuth().Users, Limits: LoginLimits{PerClient: 3, Window: 15 * time.Minute}}})
	c := newClient(t, srv)
	steps := []struct {
		advance  time.Duration
		password string
		want     int
	}{
		{0, "guess", http.StatusUnauthorized},                       // 0:00
		{0, testPassword, http.StatusOK},                            // 0:00, gives its place back
		{5 * time.Minute, "guess", http.StatusUnauthorized},         // 0:05
		{5 * time.Minute, "guess", http.StatusUnauthorized},         // 0:10
		{4 * time.Minute, testPassword, http.StatusTooManyRequests}, // 0:14
		{time.Minute, "guess", http.StatusUnauthorized},             // 0:15, 0:00 left the window
		{time.Minute, testPassword, http.StatusTooManyRequests},     // 0:16
		{4 * time.Minute, testPassword, http.StatusOK},              // 0:20, 0:05 left
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		wantStatus(t, "step "+strconv.Itoa(i), c.post(testBase+"login", loginForm(t, c, testUser, s.password)), s.want)
	}
}

// TestLoginLimitTableFull fills the table of clients: a new client is then
// refused rather than counted nowhere, until old attempts leave the
// window.
func TestLoginLimitTableFull(t *testing.T) {
	clk := testclock.New(testNow)
	d := newDashboard(t, Options{Now: clk.Now})
	d.auth.limits.clients.maxKeys = 2
	srv := startServer(t, d)
	for host := 2; host < 4; host++ {
		wantStatus(t, "a guess from a client", clientFrom(t, srv, host).login(testBase, testUser, "guess"), http.StatusUnauthorized)
	}
	third := clientFrom(t, srv, 4)
	wantStatus(t, "a client more than the table holds", third.login(testBase, testUser, testPassword), http.StatusTooManyRequests)
	clk.Advance(defaultLoginWindow)
	wantStatus(t, "that client a window later", third.login(testBase, testUser, testPassword), http.StatusOK)
}

// TestLoginNotChecked fills every slot for password checks: a login then
// waits, and one more than the waits allowed is answered 503 at once.
// Neither the busy login nor the waiting one whose client leaves is
// checked, so both give their place back.
func TestLoginNotChecked(t *testing.T) {
	d := newDashboard(t, Options{Auth: Auth{Users: testAuth().Users, Limits: LoginLimits{PerClient: 2}}})
	d.auth.maxWaits = 1
	srv := startServer(t, d)
	c := newClient(t, srv)
	form := loginForm(t, c, testUser, testPassword)
	places := func() int {
		d.auth.limits.mu.Lock()
		defer d.auth.limits.mu.Unlock()
		return len(d.auth.limits.clients.times[netip.MustParsePrefix("127.0.0.1/32")])
	}

	for range cap(d.auth.slots) {
		d.auth.slots <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+testBase+"login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	done := make(chan error, 1)
	go func() {
		resp, err := c.http.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitFor(t, "the login to wait for a slot", func() bool { return d.auth.waits.Load() == 1 })

	status, session, err := postLogin(c, form)
	if err != nil || status != http.StatusServiceUnavailable || session {
		t.Errorf("a login beyond the waits allowed: status %d, session %v, %v; want 503", status, session, err)
	}
	if n := places(); n != 1 {
		t.Errorf("%d places taken after the busy login, want 1 (the waiting one)", n)
	}

	cancel()
	<-done
	waitFor(t, "the abandoned login to give its place back", func() bool { return places() == 0 })
	for range cap(d.auth.slots) {
		<-d.auth.slots
	}
	wantStatus(t, "login once a slot is free", c.login(testBase, testUser, testPassword), http.StatusOK)
}

// syncBuffer is a bytes.Buffer for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds, failing the test if it does not
// within a generous time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up", what)
		}
	}
}
