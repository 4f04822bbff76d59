package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
)

// refresh runs one RefreshDue pass and checks its counts.
func (e *env) refresh(want resolver.RefreshResult) {
	e.t.Helper()
	got, err := e.r.RefreshDue(context.Background())
	if err != nil || got != want {
		e.t.Fatalf("RefreshDue = %+v, %v; want %+v", got, err, want)
	}
}

// RFC 8461 §10.2: the proactive refresh fetches the body again even when
// the id has not changed, so that an attacker who pins an old id cannot
// keep an old policy alive, and a changed body is picked up.
func TestSection10_2RefreshRefetchesBodySameID(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	first := e.decide("example.com")
	e.setPolicyBody("example.com", testingPolicy) // same id

	e.clk.Advance(resolver.DefaultRefreshInterval - time.Second)
	e.refresh(resolver.RefreshResult{})
	e.clk.Advance(time.Second)
	e.refresh(resolver.RefreshResult{Due: 1, Refreshed: 1})
	e.wantNetwork("example.com", 2, 2) // the body is fetched again with the id unchanged
	d := e.decide("example.com")
	e.want(d, resolver.Testing, resolver.SourceCache)
	if d.ID != first.ID {
		t.Errorf("id %s, want the unchanged %s", d.ID, first.ID)
	}
	if !d.Expires.Equal(e.clk.Now().Add(7 * 24 * time.Hour)) {
		t.Errorf("Expires %v: the refresh must renew the max_age", d.Expires)
	}
	// The next refresh is a refresh interval later.
	e.refresh(resolver.RefreshResult{})
	e.clk.Advance(resolver.DefaultRefreshInterval)
	e.refresh(resolver.RefreshResult{Due: 1, Refreshed: 1})
}

// RFC 8461 §10.2: the refresh takes a new id from the TXT record, and
// keeps refreshing a policy whose record disappeared (§5.1).
func TestSection10_2RefreshIDChangeAndMissingRecord(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.decide("example.com")
	e.w.PolicyDomain("example.com", testingPolicy)
	e.clk.Advance(resolver.DefaultRefreshInterval)
	e.refresh(resolver.RefreshResult{Due: 1, Refreshed: 1})
	d := e.decide("example.com")
	if d.ID != e.w.PolicyID("example.com") || d.Kind != resolver.Testing {
		t.Errorf("after refresh: %s id %s, want testing id %s", d.Kind, d.ID, e.w.PolicyID("example.com"))
	}
	e.w.DNS.Remove("_mta-sts.example.com", 16 /* TXT */)
	e.clk.Advance(resolver.DefaultRefreshInterval)
	e.refresh(resolver.RefreshResult{Due: 1, Refreshed: 1})
	e.want(e.decide("example.com"), resolver.Testing, resolver.SourceCache)
}

// RFC 8461 §10.2: a failed refresh keeps the cached policy, is retried
// later, and raises the alert unless the cached mode is none.
func TestSection10_2RefreshFailureAlertsAndKeepsPolicy(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.w.PolicyDomain("none.example", nonePolicy)
	e.decide("example.com")
	e.decide("none.example")
	e.breakPolicyHost("example.com")
	e.breakPolicyHost("none.example")

	e.clk.Advance(resolver.DefaultRefreshInterval)
	e.refresh(resolver.RefreshResult{Due: 2, Failed: 2})
	if got := e.obs.alerts; len(got) != 1 || got[0] != "example.com" {
		t.Errorf("alerts for %v, want example.com only (none.example's mode is none)", got)
	}
	if n := len(e.obs.refreshes); n != 2 {
		t.Errorf("%d refreshes observed, want 2", n)
	}
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceCache)

	// Retried after a quarter of the remaining six days, capped at an hour.
	e.refresh(resolver.RefreshResult{})
	e.clk.Advance(resolver.MaxRefreshRetry)
	e.setPolicyBody("example.com", enforcePolicy)
	e.refresh(resolver.RefreshResult{Due: 2, Refreshed: 1, Failed: 1})
	if n := e.obs.alertCount(); n != 1 {
		t.Errorf("%d alerts, want still 1", n)
	}
}

// A failed refresh is retried no sooner than FetchRetry (RFC 8461 §3.3),
// even when little of the policy's life is left.
func TestSection10_2RefreshRetryNotBefore5Minutes(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy) // max_age 7 days
	e.decide("example.com")
	e.breakPolicyHost("example.com")
	e.clk.Advance(7*24*time.Hour - 8*time.Minute) // 8 minutes left
	e.refresh(resolver.RefreshResult{Due: 1, Failed: 1})
	e.clk.Advance(resolver.MinFetchRetry - time.Second)
	e.refresh(resolver.RefreshResult{})
	e.clk.Advance(time.Second)
	e.refresh(resolver.RefreshResult{Due: 1, Failed: 1})
}

// RFC 8461 §10.2: refresh times are spread by jitter, always ahead of
// the interval, and short-lived policies are refreshed at half their
// max_age or not at all.
func TestSection10_2RefreshJitterAndShortMaxAge(t *testing.T) {
	e := newEnv(t, func(c *resolver.Config) {
		c.Jitter = func(n time.Duration) time.Duration { return n - 1 }
	})
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.w.PolicyDomain("short.example", "version: STSv1\nmode: enforce\nmx: mx.short.example\nmax_age: 3600\n")
	e.w.PolicyDomain("tiny.example", "version: STSv1\nmode: enforce\nmx: mx.tiny.example\nmax_age: 300\n")
	start := e.clk.Now()
	for _, d := range []string{"example.com", "short.example", "tiny.example"} {
		e.decide(d)
	}
	due := func(domain string) time.Duration {
		ent, err := e.r.Cache().Get(context.Background(), domain)
		if err != nil {
			t.Fatal(err)
		}
		if ent.RefreshAt.IsZero() {
			return 0
		}
		return ent.RefreshAt.Sub(start)
	}
	day := resolver.DefaultRefreshInterval
	if got, want := due("example.com"), day-day/10+1; got != want {
		t.Errorf("example.com due after %v, want %v (a day less the largest jitter)", got, want)
	}
	if got, want := due("short.example"), 30*time.Minute-3*time.Minute+1; got != want {
		t.Errorf("short.example due after %v, want %v (half of max_age less jitter)", got, want)
	}
	if got := due("tiny.example"); got != 0 {
		t.Errorf("tiny.example due after %v, want never: it expires before a refresh could help", got)
	}
}

// RFC 8461 §10.2: refreshes run a few at a time.
func TestSection10_2RefreshBoundedConcurrency(t *testing.T) {
	const domains, limit = 12, 3
	e := newEnv(t, func(c *resolver.Config) { c.RefreshConcurrency = limit })
	var inFlight, peak atomic.Int32
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(enforcePolicy))
	})
	for i := range domains {
		d := fmt.Sprintf("d%d.example", i)
		e.w.PolicyDomain(d, enforcePolicy)
		e.decide(d)
		e.w.HTTPSHost("mta-sts." + d).SetHandler(slow)
	}
	e.clk.Advance(resolver.DefaultRefreshInterval)
	e.refresh(resolver.RefreshResult{Due: domains, Refreshed: domains})
	if p := peak.Load(); p > limit || p < 2 {
		t.Errorf("peak of %d refreshes at once, want 2 to %d", p, limit)
	}
}

// Run refreshes on its ticker until its context ends.
func TestRun(t *testing.T) {
	e := newEnv(t, func(c *resolver.Config) { c.RefreshTick = 5 * time.Millisecond })
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.decide("example.com")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.r.Run(ctx) }()
	e.clk.Advance(resolver.DefaultRefreshInterval)
	deadline := time.Now().Add(5 * time.Second)
	for e.fetches("example.com") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not refresh the policy due")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// A Decide during a refresh waits for it and takes its answer: one fetch.
func TestRefreshAndDecideShareFetch(t *testing.T) {
	e := newEnv(t, func(c *resolver.Config) { c.RecheckInterval = time.Hour })
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.decide("example.com")
	h := e.w.HTTPSHost("mta-sts.example.com")
	h.Set(testworld.PolicyPath, testworld.Response{Body: []byte(testingPolicy), Delay: 100 * time.Millisecond})
	e.clk.Advance(resolver.DefaultRefreshInterval)

	var wg sync.WaitGroup
	wg.Go(func() { e.refresh(resolver.RefreshResult{Due: 1, Refreshed: 1}) })
	time.Sleep(30 * time.Millisecond) // the refresh is waiting for the body
	d := e.decide("example.com")
	wg.Wait()
	e.want(d, resolver.Testing, resolver.SourceFetch)
	e.wantNetwork("example.com", 2, 2)
}

// The alert hook gets the cached policy and the error.
func TestRefreshFailedHookArguments(t *testing.T) {
	var got struct {
		domain string
		mode   sts.Mode
		err    error
	}
	hook := &alertHook{f: func(d string, p *sts.Policy, err error) { got.domain, got.mode, got.err = d, p.Mode, err }}
	e := newEnv(t, func(c *resolver.Config) { c.Observer = hook })
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.decide("example.com")
	e.breakPolicyHost("example.com")
	e.clk.Advance(resolver.DefaultRefreshInterval)
	e.refresh(resolver.RefreshResult{Due: 1, Failed: 1})
	if got.domain != "example.com" || got.mode != sts.ModeEnforce || !errors.Is(got.err, sts.ErrPolicyFetch) {
		t.Errorf("RefreshFailed(%q, %s, %v)", got.domain, got.mode, got.err)
	}
}

type alertHook struct {
	resolver.NopObserver
	f func(string, *sts.Policy, error)
}

func (h *alertHook) RefreshFailed(d string, p *sts.Policy, err error) { h.f(d, p, err) }
