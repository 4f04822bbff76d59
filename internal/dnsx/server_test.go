package dnsx

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// Timeouts for tests: short enough to keep the suite fast, long enough for
// a loaded machine to answer on loopback.
const (
	testTimeout  = 150 * time.Millisecond
	testAttempts = 2
)

// newTestClient returns a Client for the given servers with test timeouts.
func newTestClient(t *testing.T, servers ...string) *Client {
	t.Helper()
	c, err := New(Config{Servers: servers, Timeout: testTimeout, Attempts: testAttempts})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newWorld returns a testworld DNS server and a Client that asks it.
func newWorld(t *testing.T) (*testworld.DNS, *Client) {
	t.Helper()
	d := testworld.NewDNS(t)
	return d, newTestClient(t, d.Addr())
}

// serveUDP starts a UDP DNS server on 127.0.0.1:0 with handler h for cases
// testworld cannot produce, and returns its address. It stops at cleanup.
func serveUDP(t *testing.T, h dns.HandlerFunc) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.ActivateAndServe(); err != nil {
			t.Errorf("test DNS server: %v", err)
		}
	})
	<-started
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Errorf("stopping test DNS server: %v", err)
		}
		wg.Wait()
	})
	return pc.LocalAddr().String()
}

// deadAddr returns a loopback UDP address where nothing listens, so that
// queries fail at once with "connection refused".
func deadAddr(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// reply answers req, as a recursive resolver, with rcode and records given
// as zone-file lines.
func reply(t *testing.T, w dns.ResponseWriter, req *dns.Msg, rcode int, rrs ...string) {
	m := new(dns.Msg)
	m.SetRcode(req, rcode)
	m.RecursionAvailable = true
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Errorf("bad record %q: %v", s, err)
			return
		}
		m.Answer = append(m.Answer, rr)
	}
	if err := w.WriteMsg(m); err != nil {
		t.Errorf("writing reply: %v", err)
	}
}
