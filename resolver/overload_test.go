package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtasts/mtasts/enforce"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
)

// kindCounter is an Observer that counts the decisions of one kind.
type kindCounter struct {
	resolver.NopObserver
	kind  resolver.Kind
	count gauge
}

func (o *kindCounter) Decided(d resolver.Decision, _ time.Duration) {
	if d.Kind == o.kind {
		o.count.add(1)
	}
}

// serveSocketmap serves Postfix TLS policy lookups by r as map "sts" on a
// loopback port until the test ends, and returns its address.
func serveSocketmap(t *testing.T, r *resolver.Resolver) string {
	t.Helper()
	var mux socketmap.Mux
	mux.Handle("sts", &enforce.Handler{Resolver: r})
	srv := &socketmap.Server{Handler: &mux}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, socketmap.ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
	})
	return l.Addr().String()
}

// TestSocketmapNewDomainFlood attacks the daemon as a prober did: many
// connections each pipeline as many new domains as a connection may have
// in flight, and their DNS answers are slow. Lookups in flight never
// exceed the resolver's default limit; the excess is answered TEMP at
// once, saying why; and a Postfix process asking for a cached domain
// meanwhile gets its policy.
func TestSocketmapNewDomainFlood(t *testing.T) {
	const conns, pipelined = 20, socketmap.DefaultConcurrency
	limit := resolver.DefaultMaxLookupsInFlight
	tempfails := &kindCounter{kind: resolver.Tempfail}
	e, g := newGatedEnv(t, func(cfg *resolver.Config) {
		cfg.Observer = tempfails
		cfg.MX = resolver.NewMXLookup(cfg.DNS.(*dnsx.Client))
	})
	// A busy domain: its policy and its MX hosts are remembered.
	e.w.DNS.Add("example.com. MX 10 mx1.example.com.")
	e.mx("example.com")
	addr := serveSocketmap(t, e.r)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dial := func() *socketmap.Client {
		c, err := socketmap.Dial(ctx, "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	var wg sync.WaitGroup
	replies := make([][]socketmap.Reply, conns)
	errs := make([]error, conns)
	for i := range conns {
		c := dial()
		reqs := make([]socketmap.Request, pipelined)
		for j := range reqs {
			reqs[j] = socketmap.Request{Map: "sts", Key: fmt.Sprintf("c%d-%d.hold.test", i, j)}
		}
		wg.Go(func() { replies[i], errs[i] = c.LookupAll(ctx, reqs...) })
	}
	excess := conns*pipelined - limit
	tempfails.count.await(t, "the excess lookups to be answered", excess)
	g.held.await(t, "the admitted lookups at the DNS server", limit)

	postfixProcess := dial()
	for _, tc := range []struct {
		key, want string
	}{
		{"example.com", "OK secure match=mx1.example.com"},
		{"another.hold.test", "TEMP MTA-STS policy of another.hold.test unknown for now: the resolver is overloaded"},
	} {
		lookupCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		r, err := postfixProcess.Lookup(lookupCtx, "sts", tc.key)
		cancel()
		if got := string(r.Status) + " " + r.Data; err != nil || !strings.HasPrefix(got, tc.want) {
			t.Errorf("under load, lookup of %s = %q, %v; want %q…", tc.key, got, err, tc.want)
		}
	}

	g.open()
	wg.Wait()
	counts := map[socketmap.Status]int{}
	for i, rs := range replies {
		if errs[i] != nil {
			t.Fatalf("connection %d: %v", i, errs[i])
		}
		for _, r := range rs {
			counts[r.Status]++
			if r.Status == socketmap.StatusTemp && !strings.Contains(r.Data, "overloaded") {
				t.Errorf("TEMP reply %q does not say the resolver is overloaded", r.Data)
			}
		}
	}
	want := map[socketmap.Status]int{socketmap.StatusNotFound: limit, socketmap.StatusTemp: excess}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("replies by status %v, want %v", counts, want)
	}
	if _, hw := g.held.values(); hw != limit {
		t.Errorf("at most %d lookups in flight, want %d", hw, limit)
	}
}
