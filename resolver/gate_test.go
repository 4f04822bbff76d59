package resolver_test

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/dnsx"
)

// gateDNS is a slow DNS server on loopback: it holds the queries for
// names under a suffix until released, counting how many it holds and the
// most it ever held at once, and hands other queries to a world's server.
// Each lookup of the resolver for a held domain is one held query, so the
// count is the number of lookups in flight.
type gateDNS struct {
	addr    string
	suffix  string
	release chan struct{}
	opened  sync.Once

	mu              sync.Mutex
	next            dns.Handler // answers the queries not held
	held, highWater int
}

// newGateDNS starts a gate for names under suffix, stopped when the test
// ends.
func newGateDNS(t testing.TB, suffix string) *gateDNS {
	t.Helper()
	g := &gateDNS{suffix: dns.Fqdn(suffix), release: make(chan struct{})}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = pc.LocalAddr().String()
	srv := &dns.Server{PacketConn: pc, Handler: g}
	go srv.ActivateAndServe()
	t.Cleanup(func() {
		g.open()
		srv.Shutdown()
	})
	return g
}

// client returns a DNS client asking g, patient enough never to give up
// on a held query during a test.
func (g *gateDNS) client(t testing.TB) *dnsx.Client {
	t.Helper()
	c, err := dnsx.New(dnsx.Config{Servers: []string{g.addr}, Timeout: time.Minute, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ServeDNS implements dns.Handler.
func (g *gateDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 || !strings.HasSuffix(strings.ToLower(req.Question[0].Name), g.suffix) {
		g.mu.Lock()
		next := g.next
		g.mu.Unlock()
		next.ServeDNS(w, req)
		return
	}
	g.mu.Lock()
	g.held++
	g.highWater = max(g.highWater, g.held)
	g.mu.Unlock()
	<-g.release
	g.mu.Lock()
	g.held--
	g.mu.Unlock()
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeNameError)
	w.WriteMsg(m)
}

// forward makes h answer the queries that g does not hold; call it before
// the first such query.
func (g *gateDNS) forward(h dns.Handler) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.next = h
}

// counts returns how many queries g holds now and the most it held.
func (g *gateDNS) counts() (held, highWater int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held, g.highWater
}

// open answers the held queries, and from now on every query at once.
func (g *gateDNS) open() { g.opened.Do(func() { close(g.release) }) }
