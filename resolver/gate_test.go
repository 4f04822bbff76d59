package resolver_test

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/resolver"
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

	held gauge // the queries held now

	mu   sync.Mutex
	next dns.Handler // answers the queries not held
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

// newGatedEnv returns a resolver whose DNS goes through a gate holding
// the names under "hold.test", with the enforced policy of example.com
// fetched and cached. change adjusts the configuration.
func newGatedEnv(t *testing.T, change func(*resolver.Config)) (*env, *gateDNS) {
	t.Helper()
	g := newGateDNS(t, "hold.test")
	e := newEnv(t, func(cfg *resolver.Config) {
		cfg.DNS = g.client(t)
		change(cfg)
	})
	g.forward(e.w.DNS)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceFetch)
	return e, g
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
	g.held.add(1)
	<-g.release
	g.held.add(-1)
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

// open answers the held queries, and from now on every query at once.
func (g *gateDNS) open() { g.opened.Do(func() { close(g.release) }) }

// gauge is a count that a test can wait for without polling, and that
// remembers its highest value.
type gauge struct {
	mu      sync.Mutex
	n, peak int
	changed chan struct{} // made by await, closed by the next change
}

// add changes the count by delta.
func (g *gauge) add(delta int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n += delta
	g.peak = max(g.peak, g.n)
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

// values returns the count and its highest value.
func (g *gauge) values() (n, peak int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n, g.peak
}

// await waits until the count is n, failing the test after 10 s.
func (g *gauge) await(t testing.TB, what string, n int) {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		g.mu.Lock()
		now := g.n
		if g.changed == nil {
			g.changed = make(chan struct{})
		}
		changed := g.changed
		g.mu.Unlock()
		if now == n {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("timed out waiting for %s: %d, want %d", what, now, n)
		}
	}
}
