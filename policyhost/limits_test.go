package policyhost

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// dialPolicyHost opens a TLS connection to ts for name, closed at the
// end of the test.
func dialPolicyHost(t *testing.T, ts *testSite, w *testworld.World, name string) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", ts.addr(), &tls.Config{ServerName: name, RootCAs: w.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the server closes c within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.ReadAll(c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// A flood from one address is cut at the per-IP limit; other clients are
// still served.
func TestLimitPerIP(t *testing.T) {
	w := testworld.New(t)
	cfg := testConfig(t, w, "a.test")
	cfg.Limits.MaxConnsPerIP = 3
	ts := startSite(t, cfg, Options{})
	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", ts.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond) // let the server accept them
	extra, err := net.Dial("tcp", ts.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if !closedWithin(extra, 2*time.Second) {
		t.Errorf("connection over the per-IP limit was kept open")
	}
	// Another client address still gets through.
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	other := &http.Client{Transport: &http.Transport{DialContext: func(ctx2 context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx2, network, ts.addr())
	}, TLSClientConfig: &tls.Config{RootCAs: w.RootCAs()}}}
	resp, err := other.Get("https://mta-sts.a.test/.well-known/mta-sts.txt")
	if err != nil {
		t.Fatalf("other client: %v", err)
	}
	resp.Body.Close()
	// Closing a connection frees its slot.
	held[0].Close()
	waitFor(t, "a free slot", func() bool {
		_, err := ts.fetch(t, w, "a.test")
		return err == nil
	})
	if got := metricValue(t, ts, `mtasts_serve_connections_rejected_total{reason="per_ip"}`); got < 1 {
		t.Errorf("rejections metric %v", got)
	}
}

// Slow clients (slowloris) are cut off by the header timeout, whether
// they stall in the TLS handshake or in the request head.
func TestLimitSlowClients(t *testing.T) {
	w := testworld.New(t)
	cfg := testConfig(t, w, "a.test")
	cfg.Limits.ReadHeaderTimeout = 300 * time.Millisecond
	ts := startSite(t, cfg, Options{})

	silent, err := net.Dial("tcp", ts.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	start := time.Now()
	if !closedWithin(silent, 5*time.Second) {
		t.Errorf("a client silent before the handshake was kept")
	}

	slow := dialPolicyHost(t, ts, w, "mta-sts.a.test")
	io.WriteString(slow, "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\n")
	if !closedWithin(slow, 5*time.Second) {
		t.Errorf("a client with an unfinished request head was kept")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("slow clients took %v to be cut off", d)
	}
	if _, err := ts.fetch(t, w, "a.test"); err != nil {
		t.Errorf("server stopped serving: %v", err)
	}
}

// A client that announces a request body and does not send it is cut off
// after ReadTimeout, whether the handler reads the body or not (net/http
// reads what it left, to reuse the connection).
func TestLimitSlowBody(t *testing.T) {
	w := testworld.New(t)
	cfg := testConfig(t, w, "a.test")
	cfg.Limits.ReadTimeout = 300 * time.Millisecond
	cfg.Limits.IdleTimeout = time.Hour // only the body timeout may close it
	ts := startSite(t, cfg, Options{})
	for _, head := range []string{
		"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\nContent-Length: 1000\r\n\r\n",
		"POST /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		c := dialPolicyHost(t, ts, w, "mta-sts.a.test")
		io.WriteString(c, head+"a few bytes")
		if !closedWithin(c, 5*time.Second) {
			t.Errorf("%q: a client that never finished its body was kept", head[:strings.IndexByte(head, '\r')])
		}
	}
	if _, err := ts.fetch(t, w, "a.test"); err != nil {
		t.Errorf("server stopped serving: %v", err)
	}
}

// A client that sends requests and never reads the responses is cut off
// once a write has waited WriteTimeout, and its slot is freed.
func TestLimitStalledReader(t *testing.T) {
	w := testworld.New(t)
	cfg := testConfig(t, w, "a.test")
	cfg.Limits.WriteTimeout = 300 * time.Millisecond
	cfg.Limits.IdleTimeout = time.Hour // only the write timeout may close it
	ts := startSite(t, cfg, Options{})

	c := dialPolicyHost(t, ts, w, "mta-sts.a.test")
	// Pipelined requests until the server's responses fill the socket
	// buffers and its writes block; the client's own writes then block
	// too, until the server gives up and closes.
	req := strings.Repeat("GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\n\r\n", 100)
	go func() {
		for {
			if _, err := io.WriteString(c, req); err != nil {
				return
			}
		}
	}()
	waitFor(t, "a connection", func() bool { return metricValue(t, ts, "mtasts_serve_connections_open") == 1 })
	// Filling the loopback socket buffers with small responses takes
	// about 5 s on an idle machine, much longer on a busy one.
	waitForWithin(t, time.Minute, "the stalled reader to be cut off", func() bool { return metricValue(t, ts, "mtasts_serve_connections_open") == 0 })
	if _, err := ts.fetch(t, w, "a.test"); err != nil {
		t.Errorf("server stopped serving: %v", err)
	}
}

// Oversized and malformed requests get an error status, not a policy,
// and the server keeps serving.
func TestLimitBadRequests(t *testing.T) {
	w := testworld.New(t)
	ts := startSite(t, testConfig(t, w, "a.test"), Options{})
	send := func(raw string) string {
		t.Helper()
		c, err := tls.Dial("tcp", ts.addr(), &tls.Config{ServerName: "mta-sts.a.test", RootCAs: w.RootCAs(), NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		go io.WriteString(c, raw)
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(line)
	}
	huge := "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n"
	for _, tc := range []struct{ name, raw, want string }{
		{"oversized head", huge, "HTTP/1.1 431"},
		{"garbage", "HELLO THERE\r\n\r\n", "HTTP/1.1 400"},
		{"bad version", "GET / HTTP/9.9\r\nHost: mta-sts.a.test\r\n\r\n", "HTTP/1.1 505"},
		{"no host", "GET /.well-known/mta-sts.txt HTTP/1.1\r\n\r\n", "HTTP/1.1 400"},
		{"bad content length", "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\nContent-Length: -5\r\n\r\n", "HTTP/1.1 400"},
	} {
		if got := send(tc.raw); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: %q, want %s", tc.name, got, tc.want)
		}
	}
	if _, err := ts.fetch(t, w, "a.test"); err != nil {
		t.Errorf("server stopped serving: %v", err)
	}
}

// limitConn's write timeout: a write to a peer that does not read fails
// after it; a deadline set through SetWriteDeadline overrides it until it
// is cleared.
func TestLimitConnWriteTimeout(t *testing.T) {
	server, client := net.Pipe() // synchronous: every write waits for a read
	defer client.Close()
	defer server.Close()
	c := &limitConn{Conn: server, writeTimeout: 50 * time.Millisecond}
	isTimeout := func(err error) bool {
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout()
	}

	start := time.Now()
	if _, err := c.Write([]byte("x")); !isTimeout(err) {
		t.Fatalf("write to a peer that does not read: %v, want a timeout", err)
	}
	if d := time.Since(start); d < 30*time.Millisecond || d > 2*time.Second {
		t.Errorf("write timed out after %v, want about 50ms", d)
	}

	// A handler's own, longer deadline wins: the write outlasts the
	// write timeout and completes when the peer reads.
	if err := c.SetWriteDeadline(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := c.Write([]byte("y")); done <- err }()
	time.Sleep(200 * time.Millisecond)
	buf := make([]byte, 1)
	if _, err := client.Read(buf); err != nil || buf[0] != 'y' {
		t.Fatalf("read %q, %v", buf, err)
	}
	if err := <-done; err != nil {
		t.Errorf("write under an explicit deadline: %v", err)
	}

	// Cleared, the write timeout applies again.
	if err := c.SetWriteDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("z")); !isTimeout(err) {
		t.Errorf("write after the deadline was cleared: %v, want a timeout", err)
	}
}
