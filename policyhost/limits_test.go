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

	"github.com/mtasts/mtasts/internal/testworld"
)

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

	slow, err := tls.Dial("tcp", ts.addr(), &tls.Config{ServerName: "mta-sts.a.test", RootCAs: w.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
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
