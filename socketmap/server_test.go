package socketmap

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testServer is a Server serving on a loopback or unix socket for one test.
type testServer struct {
	*Server
	network, addr string
	logs          *logBuffer

	served   chan error
	waitOnce sync.Once
	err      error
}

// startServer serves srv on network ("tcp": 127.0.0.1:0, "unix": a socket
// in t.TempDir()) until the test ends. A nil Logger is replaced by one that
// records into ts.logs; a nil Handler by testMux().
func startServer(t *testing.T, network string, srv *Server) *testServer {
	t.Helper()
	ts := &testServer{Server: srv, network: network, logs: &logBuffer{}, served: make(chan error, 1)}
	if srv.Logger == nil {
		srv.Logger = slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if srv.Handler == nil {
		srv.Handler = testMux()
	}
	l := listen(t, network)
	ts.addr = l.Addr().String()
	go func() { ts.served <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := ts.wait(); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ts
}

// listen listens on 127.0.0.1:0 for "tcp", on a socket in a temporary
// directory for "unix".
func listen(tb testing.TB, network string) net.Listener {
	tb.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(tb.TempDir(), "socketmap")
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// wait returns what Serve returned, waiting for it.
func (ts *testServer) wait() error {
	ts.waitOnce.Do(func() { ts.err = <-ts.served })
	return ts.err
}

// dial opens a raw connection to ts, closed when the test ends.
func (ts *testServer) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial(ts.network, ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// client opens a Client to ts, closed when the test ends.
func (ts *testServer) client(t *testing.T) *Client {
	t.Helper()
	c, err := Dial(context.Background(), ts.network, ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// lookupOK checks that ts answers a fresh client's lookup, to show that
// it goes on serving.
func (ts *testServer) lookupOK(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := ts.client(t).Lookup(ctx, "echo", "ok")
	if err != nil || got != OK("ok") {
		t.Fatalf("lookup on a new connection = %+v, %v", got, err)
	}
}

// testMux serves "echo" (OK with the key) and "sts", whose keys choose the
// reply: "missing" NOTFOUND, "temp" TEMP, "panic" a panic, others OK.
func testMux() *Mux {
	var m Mux
	m.HandleFunc("echo", func(_ context.Context, r Request) Reply { return OK(r.Key) })
	m.HandleFunc("sts", func(_ context.Context, r Request) Reply {
		switch r.Key {
		case "missing":
			return NotFound()
		case "temp":
			return Temp("dns lookup failed")
		case "panic":
			panic("handler bug")
		}
		return OK("secure match=mx." + r.Key)
	})
	return &m
}

// holdingHandler answers OK with the key, and holds the lookups of the
// key "slow" until release is closed.
type holdingHandler struct {
	held    atomic.Int32 // lookups of "slow" started
	release chan struct{}
}

func newHoldingHandler() *holdingHandler {
	return &holdingHandler{release: make(chan struct{})}
}

// Lookup implements Handler.
func (h *holdingHandler) Lookup(_ context.Context, r Request) Reply {
	if r.Key == "slow" {
		h.held.Add(1)
		<-h.release
	}
	return OK(r.Key)
}

// waitHeld waits until n lookups are held.
func (h *holdingHandler) waitHeld(t *testing.T, n int32) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d slow lookups", n), func() bool { return h.held.Load() == n })
}

// readReplies reads n reply payloads from r.
func readReplies(t *testing.T, r *bufio.Reader, n int) []string {
	t.Helper()
	var out []string
	for range n {
		p, err := ReadNetstring(r, DefaultMaxReply)
		if err != nil {
			t.Fatalf("reading reply %d of %d: %v (got %q)", len(out)+1, n, err, out)
		}
		out = append(out, string(p))
	}
	return out
}

// lastReplies reads replies from c, checks they are want, checks that the
// server then closes the connection, and closes c.
func lastReplies(t *testing.T, c net.Conn, want ...string) {
	t.Helper()
	defer c.Close()
	r := bufio.NewReader(c)
	if got := readReplies(t, r, len(want)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("replies %q, want %q", got, want)
	}
	expectClosed(t, r)
}

// expectClosed checks that the server closes c without sending more.
func expectClosed(t *testing.T, r *bufio.Reader) {
	t.Helper()
	if p, err := ReadNetstring(r, DefaultMaxReply); err == nil {
		t.Fatalf("read %q, want the connection closed", p)
	} else if !isClosedError(err) {
		t.Fatalf("read error %v, want end of stream", err)
	}
}

func isClosedError(err error) bool {
	return err != nil && (errors.Is(err, net.ErrClosed) || err.Error() == "EOF" ||
		strings.Contains(err.Error(), "connection reset"))
}

// requests encodes "<map> <key>" payloads as netstrings.
func requests(payloads ...string) []byte {
	var b []byte
	for _, p := range payloads {
		b = AppendNetstring(b, []byte(p))
	}
	return b
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitGoroutines waits until no more goroutines run than base.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("goroutines back to %d", base), func() bool {
		return runtime.NumGoroutine() <= base
	})
}

// logBuffer collects log output from many goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitLog waits for a log line containing each of parts.
func (l *logBuffer) waitLog(t *testing.T, parts ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("a log line with %q", parts), func() bool {
		for _, line := range strings.Split(l.String(), "\n") {
			if containsAll(line, parts) {
				return true
			}
		}
		return false
	})
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// networks runs f as a subtest over TCP and over a unix socket.
func networks(t *testing.T, f func(t *testing.T, network string)) {
	for _, n := range []string{"tcp", "unix"} {
		t.Run(n, func(t *testing.T) { f(t, n) })
	}
}

func TestServerReplies(t *testing.T) {
	networks(t, func(t *testing.T, network string) {
		ts := startServer(t, network, &Server{})
		c := ts.dial(t)
		// One request per write, as Postfix does, checking the exact bytes.
		tests := []struct{ req, want string }{
			{"sts example.com", "30:OK secure match=mx.example.com,"},
			{"sts missing", "9:NOTFOUND ,"},
			{"sts temp", "22:TEMP dns lookup failed,"},
			{"nosuch example.com", `25:PERM unknown map "nosuch",`},
			{"echo key with spaces", "18:OK key with spaces,"},
			{"echo ", "3:OK ,"},
		}
		r := bufio.NewReader(c)
		for _, tc := range tests {
			if _, err := c.Write(requests(tc.req)); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(tc.want))
			if _, err := io.ReadFull(r, got); err != nil {
				t.Fatalf("%q: %v", tc.req, err)
			}
			if string(got) != tc.want {
				t.Errorf("%q: reply %q, want %q", tc.req, got, tc.want)
			}
		}
	})
}

// TestServerPipelinedReversed sends many requests in one write and makes
// the handler finish them in reverse order: each lookup waits for the next
// one to finish. The replies must still come in request order.
func TestServerPipelinedReversed(t *testing.T) {
	networks(t, func(t *testing.T, network string) {
		const n = 50
		var finished [n + 1]chan struct{}
		for i := range finished {
			finished[i] = make(chan struct{})
		}
		close(finished[n])
		var order []int
		var mu sync.Mutex
		handler := HandlerFunc(func(ctx context.Context, r Request) Reply {
			var i int
			fmt.Sscan(r.Key, &i)
			select {
			case <-finished[i+1]:
			case <-ctx.Done():
				return Temp("canceled")
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			close(finished[i])
			return OK(r.Key)
		})
		ts := startServer(t, network, &Server{Handler: handler, Concurrency: n})
		c := ts.dial(t)
		var payloads, want []string
		for i := range n {
			payloads = append(payloads, fmt.Sprintf("m %d", i))
			want = append(want, fmt.Sprintf("OK %d", i))
		}
		if _, err := c.Write(requests(payloads...)); err != nil {
			t.Fatal(err)
		}
		got := readReplies(t, bufio.NewReader(c), n)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("replies out of order:\n got %q\nwant %q", got, want)
		}
		if order[0] != n-1 || order[n-1] != 0 {
			t.Errorf("handler order %v, want reversed", order)
		}
	})
}

// TestServerPipelinedConcurrencyLimit sends more pipelined requests than
// Concurrency; later ones sleep less, so lookups finish out of order. At
// most Concurrency lookups may run at once, and replies come in order.
func TestServerPipelinedConcurrencyLimit(t *testing.T) {
	networks(t, func(t *testing.T, network string) {
		const n, limit = 100, 8
		var running, peak atomic.Int32
		handler := HandlerFunc(func(_ context.Context, r Request) Reply {
			now := running.Add(1)
			defer running.Add(-1)
			for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
			}
			var i int
			fmt.Sscan(r.Key, &i)
			time.Sleep(time.Duration(n-i) * 20 * time.Microsecond)
			return OK(r.Key)
		})
		ts := startServer(t, network, &Server{Handler: handler, Concurrency: limit})
		c := ts.client(t)
		var reqs []Request
		for i := range n {
			reqs = append(reqs, Request{Map: "m", Key: fmt.Sprint(i)})
		}
		got, err := c.LookupAll(context.Background(), reqs...)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range got {
			if r != OK(fmt.Sprint(i)) {
				t.Fatalf("reply %d = %+v", i, r)
			}
		}
		if p := peak.Load(); p > limit || p < 2 {
			t.Errorf("peak concurrency %d, want 2..%d", p, limit)
		}
	})
}

func TestServerHandlerPanic(t *testing.T) {
	ts := startServer(t, "tcp", &Server{})
	c := ts.client(t)
	ctx := context.Background()
	got, err := c.LookupAll(ctx,
		Request{Map: "sts", Key: "panic"},
		Request{Map: "sts", Key: "example.com"},
	)
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != Temp("internal error") || got[1] != OK("secure match=mx.example.com") {
		t.Errorf("replies %+v", got)
	}
	// The same connection goes on.
	if r, err := c.Lookup(ctx, "echo", "after"); err != nil || r != OK("after") {
		t.Errorf("lookup after panic = %+v, %v", r, err)
	}
	ts.logs.waitLog(t, "level=ERROR", "handler panicked", "handler bug", "stack=")
}

func TestServerObserver(t *testing.T) {
	type obs struct {
		m string
		s Status
	}
	var mu sync.Mutex
	var seen []obs
	srv := &Server{Observer: func(m string, s Status, d time.Duration) {
		if d < 0 {
			t.Errorf("negative duration %v", d)
		}
		mu.Lock()
		seen = append(seen, obs{m, s})
		mu.Unlock()
	}}
	ts := startServer(t, "tcp", srv)
	c := ts.dial(t)
	c.Write(requests("sts a", "sts missing", "sts panic", "other x", "nospace"))
	readReplies(t, bufio.NewReader(c), 5)
	want := []obs{
		{"sts", StatusOK}, {"sts", StatusNotFound}, {"sts", StatusTemp},
		{"other", StatusPerm}, {"", StatusPerm},
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		// Lookups run concurrently: compare as sets.
		count := map[obs]int{}
		for _, o := range seen {
			count[o]++
		}
		for _, o := range want {
			count[o]--
		}
		for o, n := range count {
			if n != 0 {
				t.Errorf("observed %v, want %v (%v off by %d)", seen, want, o, n)
			}
		}
	}
}

func TestServerReplyTooLong(t *testing.T) {
	handler := HandlerFunc(func(_ context.Context, r Request) Reply {
		if r.Key == "ok" {
			return OK(strings.Repeat("m", 200))
		}
		return Temp(strings.Repeat("r", 200))
	})
	ts := startServer(t, "tcp", &Server{Handler: handler, MaxReply: 100})
	got, err := ts.client(t).LookupAll(context.Background(), Request{Map: "m", Key: "ok"}, Request{Map: "m", Key: "temp"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != Temp("lookup result too long (203 bytes, limit 100)") {
		t.Errorf("long OK became %+v", got[0])
	}
	if got[1] != Temp(strings.Repeat("r", 95)) {
		t.Errorf("long TEMP became %+v", got[1])
	}
	ts.logs.waitLog(t, "level=WARN", "reply changed", "sent TEMP")
}

// TestServerHalfClose checks that a client that sends its requests and
// then shuts down its sending side still gets every reply.
func TestServerHalfClose(t *testing.T) {
	networks(t, func(t *testing.T, network string) {
		ts := startServer(t, network, &Server{})
		c := ts.dial(t)
		c.Write(requests("echo 1", "echo 2", "echo 3"))
		if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		lastReplies(t, c, "OK 1", "OK 2", "OK 3")
	})
}

func TestListenAndServeStaleUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	// A server that died leaves its socket file behind.
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	srv := &Server{Handler: testMux()}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe("unix", path) }()
	var c *Client
	waitFor(t, "the server to listen", func() bool {
		c, err = Dial(context.Background(), "unix", path)
		return err == nil
	})
	defer c.Close()
	if r, err := c.Lookup(context.Background(), "echo", "x"); err != nil || r != OK("x") {
		t.Errorf("lookup = %+v, %v", r, err)
	}

	// A live server's socket is left alone.
	second := &Server{Handler: testMux()}
	if err := second.ListenAndServe("unix", path); err == nil || errors.Is(err, ErrServerClosed) {
		t.Errorf("second server on a live socket: %v, want address in use", err)
	}
	srv.Close()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("ListenAndServe = %v", err)
	}
}

func TestServeMisuse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := (&Server{}).Serve(l); err == nil || !strings.Contains(err.Error(), "Handler is nil") {
		t.Errorf("Serve without Handler = %v", err)
	}
	srv := &Server{Handler: testMux()}
	srv.Close()
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Close = %v", err)
	}
	if err := srv.ListenAndServe("tcp", "127.0.0.1:0"); !errors.Is(err, ErrServerClosed) {
		t.Errorf("ListenAndServe after Close = %v", err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after Close = %v", err)
	}
}

// TestServerSlowLookupHandsOff sends a request whose lookup waits for the
// next request's lookup, in separate writes: the first lookup runs in the
// reading goroutine until it is slow, then reading goes on elsewhere, and
// the replies still come in order.
func TestServerSlowLookupHandsOff(t *testing.T) {
	networks(t, func(t *testing.T, network string) {
		started, fastRan := make(chan struct{}), make(chan struct{})
		handler := HandlerFunc(func(ctx context.Context, r Request) Reply {
			if r.Key == "slow" {
				close(started)
				select {
				case <-fastRan:
				case <-ctx.Done():
					return Temp("canceled")
				}
			} else {
				close(fastRan)
			}
			return OK(r.Key)
		})
		ts := startServer(t, network, &Server{Handler: handler})
		c := ts.dial(t)
		c.Write(requests("m slow"))
		<-started
		c.Write(requests("m fast"))
		got := readReplies(t, bufio.NewReader(c), 2)
		if want := []string{"OK slow", "OK fast"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("replies %q, want %q", got, want)
		}
	})
}

// TestServerDeadlinesExtended spaces requests on one connection so that
// the connection lives longer than IdleTimeout and writes come after
// WriteTimeout: deadlines set for earlier requests must not close it.
func TestServerDeadlinesExtended(t *testing.T) {
	ts := startServer(t, "tcp", &Server{IdleTimeout: 100 * time.Millisecond, WriteTimeout: 20 * time.Millisecond})
	c := ts.client(t)
	ctx := context.Background()
	for i := range 6 {
		if r, err := c.Lookup(ctx, "echo", fmt.Sprint(i)); err != nil || r != OK(fmt.Sprint(i)) {
			t.Fatalf("lookup %d = %+v, %v", i, r, err)
		}
		time.Sleep(40 * time.Millisecond)
	}
}
