package resolver_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
)

// recorder is an Observer that remembers what it was told.
type recorder struct {
	resolver.NopObserver
	mu            sync.Mutex
	fetches       []error
	refreshes     []error
	alerts        []string // domains of RefreshFailed
	cacheErrors   []string // ops
	decisionKinds map[resolver.Kind]int
}

func (o *recorder) Decided(d resolver.Decision, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.decisionKinds == nil {
		o.decisionKinds = map[resolver.Kind]int{}
	}
	o.decisionKinds[d.Kind]++
}

func (o *recorder) Fetched(_ string, err error, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fetches = append(o.fetches, err)
}

func (o *recorder) Refreshed(_ string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refreshes = append(o.refreshes, err)
}

func (o *recorder) RefreshFailed(domain string, _ *sts.Policy, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.alerts = append(o.alerts, domain)
}

func (o *recorder) CacheError(op string, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cacheErrors = append(o.cacheErrors, op)
}

func (o *recorder) alertCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.alerts)
}

// env is a resolver in a test world with an injected clock.
type env struct {
	t   testing.TB
	w   *testworld.World
	clk *testclock.Clock
	obs *recorder
	r   *resolver.Resolver
	cfg resolver.Config
}

// newEnv starts a world and a resolver over it: DNS through dnsx to the
// world's server (one attempt, so that a SERVFAIL is one query), fetches
// trusting the world's CA, a memory cache on the test clock, no jitter.
// change adjusts the configuration.
func newEnv(t testing.TB, change ...func(*resolver.Config)) *env {
	t.Helper()
	w := testworld.New(t)
	dc, err := dnsx.New(dnsx.Config{Servers: []string{w.Resolver()}, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, w: w, clk: testclock.New(time.Now()), obs: &recorder{}}
	e.cfg = resolver.Config{
		DNS:      dc,
		Fetch:    sts.FetchOptions{RootCAs: w.RootCAs(), DialContext: w.DialContext, Timeout: 10 * time.Second},
		Now:      e.clk.Now,
		Jitter:   func(time.Duration) time.Duration { return 0 },
		Logger:   slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		Observer: e.obs,
	}
	e.cfg.Cache = cache.NewMemory(0, e.clk.Now)
	for _, f := range change {
		f(&e.cfg)
	}
	e.r, err = resolver.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// decide calls Decide, failing the test on error.
func (e *env) decide(nexthop string) resolver.Decision {
	e.t.Helper()
	d, err := e.r.Decide(context.Background(), nexthop)
	if err != nil {
		e.t.Fatalf("Decide(%q): %v", nexthop, err)
	}
	return d
}

// want checks the kind and source of a decision.
func (e *env) want(d resolver.Decision, kind resolver.Kind, src resolver.Source) {
	e.t.Helper()
	if d.Kind != kind || d.Source != src {
		e.t.Fatalf("decision for %s = %s from %s, want %s from %s; reason: %s", d.Domain, d.Kind, d.Source, kind, src, d.Reason)
	}
}

// txtQueries returns how many TXT queries the world's DNS received for
// domain's _mta-sts record.
func (e *env) txtQueries(domain string) int {
	return e.w.DNS.Queries("_mta-sts."+domain, dns.TypeTXT)
}

// wantNetwork checks how many TXT queries for domain's record and policy
// requests to its policy host there were.
func (e *env) wantNetwork(domain string, queries, fetches int) {
	e.t.Helper()
	if q, f := e.txtQueries(domain), e.fetches(domain); q != queries || f != fetches {
		e.t.Errorf("%s: %d TXT queries and %d policy requests, want %d and %d", domain, q, f, queries, fetches)
	}
}

// fetches returns how many policy requests domain's policy host received.
func (e *env) fetches(domain string) int {
	return e.w.HTTPSHost("mta-sts." + domain).Requests(testworld.PolicyPath)
}

// setPolicyBody changes the body the policy host serves without changing
// the TXT id, as an attacker pinning an old id (or a careless domain
// owner) would.
func (e *env) setPolicyBody(domain, body string) {
	e.w.HTTPSHost("mta-sts."+domain).Set(testworld.PolicyPath, testworld.Response{Body: []byte(body)})
}

// breakPolicyHost makes domain's policy host answer 404.
func (e *env) breakPolicyHost(domain string) {
	e.w.HTTPSHost("mta-sts."+domain).Set(testworld.PolicyPath, testworld.Response{Status: 404, Body: []byte("gone")})
}

const (
	enforcePolicy = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.mail.example.com\nmax_age: 604800\n"
	testingPolicy = "version: STSv1\nmode: testing\nmx: mx2.example.com\nmax_age: 604800\n"
	nonePolicy    = "version: STSv1\nmode: none\nmax_age: 604800\n"
)
