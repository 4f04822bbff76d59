package resolver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/resolver"
)

const day = 24 * time.Hour

// usageEnv is a resolver refreshing what was used within 3 days and
// dropping what was unused for 5, over policies valid for 7.
func usageEnv(t *testing.T) *env {
	return newEnv(t, func(c *resolver.Config) {
		c.RefreshUsedWithin, c.DropUnusedAfter = 3*day, 5*day
	})
}

// cached reports whether the cache holds a policy for domain.
func (e *env) cached(domain string) bool {
	_, err := e.cfg.Cache.Get(context.Background(), domain)
	if err != nil && !errors.Is(err, cache.ErrNotFound) {
		e.t.Fatal(err)
	}
	return err == nil
}

// A policy is refreshed daily while its domain is looked up, left alone
// once it is not, and dropped after DropUnusedAfter; a lookup in between
// brings the refresh back.
func TestRefreshOnlyWhatIsUsed(t *testing.T) {
	e := usageEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.w.PolicyDomain("busy.example", enforcePolicy)
	e.decide("example.com")
	e.decide("busy.example")
	for i := 1; i <= 5; i++ {
		e.clk.Advance(day)
		e.decide("busy.example")
		want := resolver.RefreshResult{Due: 2, Refreshed: 2}
		switch i {
		case 3, 4:
			want = resolver.RefreshResult{Due: 2, Refreshed: 1, Unused: 1}
		case 5:
			want = resolver.RefreshResult{Due: 2, Refreshed: 1, Dropped: 1}
		}
		e.refresh(want)
	}
	if e.cached("example.com") || !e.cached("busy.example") {
		t.Errorf("example.com cached %v, busy.example %v; want only busy.example", e.cached("example.com"), e.cached("busy.example"))
	}
	// Looked up again: fetched, and refreshed again.
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceFetch)
	e.clk.Advance(day)
	e.decide("busy.example")
	e.refresh(resolver.RefreshResult{Due: 2, Refreshed: 2})
}

// A lookup between two refreshes of a policy left alone brings its
// refresh back.
func TestRefreshResumesWhenUsedAgain(t *testing.T) {
	e := usageEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.decide("example.com")
	e.clk.Advance(3 * day)
	e.refresh(resolver.RefreshResult{Due: 1, Unused: 1})
	e.decide("example.com") // id re-checked: a use
	e.clk.Advance(day)
	e.refresh(resolver.RefreshResult{Due: 1, Refreshed: 1})
}

// With a shared cache, the use by one MTA keeps the policy refreshed for
// all: a second resolver over the same cache looks the domain up, the
// first refreshes it.
func TestRefreshCountsUseByOtherProcesses(t *testing.T) {
	e := usageEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.decide("example.com")
	other, err := resolver.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		e.clk.Advance(day)
		if _, err := other.Decide(context.Background(), "example.com"); err != nil {
			t.Fatal(err)
		}
		e.refresh(resolver.RefreshResult{Due: 1, Refreshed: 1})
	}
}

// A policy cached without a record of its use (a cache from an earlier
// version) counts as used from its first refresh time.
func TestRefreshWithoutUsageRecord(t *testing.T) {
	e := usageEnv(t)
	now := e.clk.Now()
	err := e.cfg.Cache.Put(context.Background(), &cache.Entry{Domain: "example.com", ID: "1", Text: enforcePolicy,
		Fetched: now, Expires: now.Add(7 * day), Checked: now, RefreshAt: now.Add(day)})
	if err != nil {
		t.Fatal(err)
	}
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.clk.Advance(day)
	e.refresh(resolver.RefreshResult{Due: 1, Refreshed: 1})
	e.clk.Advance(3 * day)
	e.refresh(resolver.RefreshResult{Due: 1, Unused: 1})
}

// With both limits off, every policy due is refreshed, as RFC 8461 §10.2
// alone would have it.
func TestRefreshUsageOff(t *testing.T) {
	e := newEnv(t, func(c *resolver.Config) { c.RefreshUsedWithin, c.DropUnusedAfter = -1, -1 })
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.decide("example.com")
	for range 10 {
		e.clk.Advance(day)
		e.refresh(resolver.RefreshResult{Due: 1, Refreshed: 1})
	}
}

// With id re-checks rarer than a quarter of the limits, the decisions
// answered from the cache record the uses.
func TestRefreshCountsCacheHitsWithRareRechecks(t *testing.T) {
	e := newEnv(t, func(c *resolver.Config) {
		c.RefreshUsedWithin, c.DropUnusedAfter, c.RecheckInterval = 3*day, 5*day, 10*day
	})
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.decide("example.com")
	for range 5 {
		e.clk.Advance(day)
		e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceCache)
		e.refresh(resolver.RefreshResult{Due: 1, Refreshed: 1})
	}
}
