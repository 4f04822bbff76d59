package resolver_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/resolver"
)

// flaky is a shared backend that can be taken down.
type flaky struct {
	cache.Cache
	down atomic.Bool
}

var errDown = errors.New("connection refused")

func (f *flaky) Get(ctx context.Context, d string) (*cache.Entry, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Cache.Get(ctx, d)
}

func (f *flaky) Put(ctx context.Context, e *cache.Entry) error {
	if f.down.Load() {
		return errDown
	}
	return f.Cache.Put(ctx, e)
}

func (f *flaky) GetNegative(ctx context.Context, d string) (*cache.Negative, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Cache.GetNegative(ctx, d)
}

func (f *flaky) PutNegative(ctx context.Context, n *cache.Negative) error {
	if f.down.Load() {
		return errDown
	}
	return f.Cache.PutNegative(ctx, n)
}

// With the shared cache down, the resolver keeps answering from its
// memory layer, never less strictly than the policy it cached (RFC 8461
// §5.1), and still discovers policies it never saw.
func TestSharedCacheDownNeverLessStrict(t *testing.T) {
	shared := &flaky{}
	e := newEnv(t, func(c *resolver.Config) {
		shared.Cache = cache.NewMemory(0, c.Now)
		c.Cache = cache.NewLayered(cache.NewMemory(0, c.Now), shared, cache.LayerOptions{Now: c.Now})
	})
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.w.PolicyDomain("new.example", testingPolicy)
	e.decide("example.com")

	shared.down.Store(true)
	e.w.DNS.Remove("_mta-sts.example.com", dns.TypeTXT) // and the record is gone too
	e.clk.Advance(time.Hour)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceStale)
	e.want(e.decide("new.example"), resolver.Testing, resolver.SourceFetch)
	e.want(e.decide("new.example"), resolver.Testing, resolver.SourceCache)
	if len(e.obs.cacheErrors) == 0 {
		t.Error("the shared cache's failures were not reported to the observer")
	}
}

// RFC 8461 §5.1 across a restart: the SQLite cache keeps the policy, which
// a missing record alone does not erase.
func TestSQLiteCacheSurvivesRestart(t *testing.T) {
	url := "sqlite://" + filepath.Join(t.TempDir(), "cache.db")
	open := func(c *resolver.Config) {
		cc, err := cache.Open(context.Background(), url, cache.Options{Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		c.Cache = cc
	}
	e := newEnv(t, open)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.decide("example.com")

	restarted, err := resolver.New(func() resolver.Config { c := e.cfg; open(&c); return c }())
	if err != nil {
		t.Fatal(err)
	}
	e.w.DNS.Remove("_mta-sts.example.com", dns.TypeTXT)
	e.clk.Advance(time.Hour)
	d, err := restarted.Decide(context.Background(), "example.com")
	if err != nil || d.Kind != resolver.Enforce || d.Source != resolver.SourceStale {
		t.Fatalf("after restart: %s from %s (%v); want enforce from the cache", d.Kind, d.Source, err)
	}
}

// Two daemons sharing one Redis: what one fetched, the other answers
// without fetching.
func TestRedisSharedBetweenResolvers(t *testing.T) {
	r := testservers.StartRedis(t)
	useRedis := func(c *resolver.Config) {
		cc, err := cache.Open(context.Background(), r.URL(0), cache.Options{Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		c.Cache = cc
	}
	e := newEnv(t, useRedis)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.decide("example.com")

	cfg := e.cfg
	useRedis(&cfg)
	second, err := resolver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := second.Decide(context.Background(), "example.com")
	if err != nil || d.Kind != resolver.Enforce || d.Source != resolver.SourceCache {
		t.Fatalf("second daemon: %s from %s (%v), want enforce from the cache", d.Kind, d.Source, err)
	}
	e.wantNetwork("example.com", 1, 1)
}
