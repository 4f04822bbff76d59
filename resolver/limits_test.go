package resolver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/resolver"
)

// TestDecideOverloaded holds MaxLookupsInFlight lookups at a slow DNS
// server and asks for more new domains: those are Tempfail at once,
// without a query, while the cached policy is still answered, from the
// cache or, once its id is due for a re-check, without one. When the
// lookups end, new ones run again.
func TestDecideOverloaded(t *testing.T) {
	const limit, extra = 8, 12
	e, g := newGatedEnv(t, func(cfg *resolver.Config) { cfg.MaxLookupsInFlight = limit })

	results, joined := make(chan resolver.Decision, limit+extra), make(chan resolver.Decision, 1)
	decide := func(nexthop string, results chan<- resolver.Decision) {
		go func() {
			d, _ := e.r.Decide(context.Background(), nexthop)
			results <- d
		}()
	}
	for i := range limit + extra {
		decide(fmt.Sprintf("d%d.hold.test", i), results)
	}
	refused := map[string]bool{}
	for range extra { // the held lookups cannot answer before the gate opens
		d := <-results
		e.want(d, resolver.Tempfail, resolver.SourceOverload)
		if !strings.Contains(d.Reason, "overloaded") {
			t.Errorf("reason %q does not say the resolver is overloaded", d.Reason)
		}
		refused[d.Domain] = true
	}
	g.held.await(t, "the admitted lookups at the DNS server", limit)
	if got, want := e.r.Load(), (resolver.LoadStats{InFlight: limit, Limit: limit, Refused: extra}); got != want {
		t.Errorf("Load() = %+v, want %+v", got, want)
	}
	for i := 0; ; i++ {
		if held := fmt.Sprintf("d%d.hold.test", i); !refused[held] {
			decide(held, joined) // joins the lookup in flight, takes no slot
			break
		}
	}

	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceCache)
	e.clk.Advance(2 * resolver.DefaultRecheckInterval)
	d := e.decide("example.com")
	e.want(d, resolver.Enforce, resolver.SourceStale)
	if !strings.Contains(d.Reason, "overloaded") {
		t.Errorf("reason %q does not say the resolver is overloaded", d.Reason)
	}
	e.wantNetwork("example.com", 1, 1)

	g.open()
	for range limit {
		e.want(<-results, resolver.NoPolicy, resolver.SourceDNS)
	}
	if d := <-joined; d.Kind != resolver.NoPolicy { // from the negative cache if it came late
		t.Errorf("decision joining a lookup in flight = %s from %s: %s", d.Kind, d.Source, d.Reason)
	}
	if _, hw := g.held.values(); hw != limit {
		t.Errorf("at most %d lookups in flight, want %d", hw, limit)
	}
	if got, want := e.r.Load(), (resolver.LoadStats{Limit: limit, Refused: extra + 1}); got != want {
		t.Errorf("Load() = %+v, want %+v", got, want)
	}
	e.want(e.decide("new.hold.test"), resolver.NoPolicy, resolver.SourceDNS)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceCache)
}

// TestLoadLimits checks the effective limit of MaxLookupsInFlight.
func TestLoadLimits(t *testing.T) {
	for _, tc := range []struct{ set, want int }{
		{0, resolver.DefaultMaxLookupsInFlight},
		{3, 3},
		{-1, 0},
	} {
		r, err := resolver.New(resolver.Config{MaxLookupsInFlight: tc.set})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Load(); got != (resolver.LoadStats{Limit: tc.want}) {
			t.Errorf("MaxLookupsInFlight %d: Load() = %+v, want limit %d", tc.set, got, tc.want)
		}
	}
}
