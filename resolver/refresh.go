package resolver

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/sts"
)

// RefreshResult counts what one RefreshDue pass did.
type RefreshResult struct {
	// Due is how many cached policies were due.
	Due int
	// Refreshed is how many were fetched anew.
	Refreshed int
	// Failed is how many could not be fetched; they stay cached.
	Failed int
	// Unused is how many were not refreshed because their domain was
	// not looked up within Config.RefreshUsedWithin; Dropped how many
	// were removed, unused for Config.DropUnusedAfter.
	Unused, Dropped int
}

// Run refreshes cached policies ahead of their expiry (RFC 8461 §10.2):
// it calls RefreshDue at once and then every RefreshTick until ctx ends,
// and then returns nil. A daemon runs it in its own goroutine; a one-shot
// lookup does not need it.
func (r *Resolver) Run(ctx context.Context) error {
	tick := time.NewTicker(r.cfg.RefreshTick)
	defer tick.Stop()
	for {
		_, _ = r.RefreshDue(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// RefreshDue refreshes every cached policy whose refresh time has come, up
// to DefaultRefreshBatch of them, RefreshConcurrency at a time, and
// returns when they are done.
//
// A refresh fetches the policy body again even when the TXT id has not
// changed (RFC 8461 §10.2: an attacker who can pin an old id must not keep
// an old policy alive); it takes the id from the TXT record when there is
// one, else keeps the cached id. A successful refresh replaces the entry
// (new max_age, new refresh time). A failed one keeps the cached policy,
// which stays in force until it expires, and tries again after a quarter
// of its remaining lifetime (between FetchRetry and MaxRefreshRetry); it
// is logged and reported to Observer.RefreshFailed unless the cached mode
// is none (§10.2).
//
// The error is the cache's, when it could not list the policies due.
func (r *Resolver) RefreshDue(ctx context.Context) (RefreshResult, error) {
	due, err := r.cfg.Cache.Due(ctx, r.cfg.Now(), DefaultRefreshBatch)
	if err != nil {
		r.cacheError(ctx, "due", "", err)
		if len(due) == 0 {
			return RefreshResult{}, err
		}
	}
	res := RefreshResult{Due: len(due)}
	due, res.Unused, res.Dropped = r.unusedFilter(ctx, due)
	var refreshed, failed atomic.Int64
	sem := make(chan struct{}, r.cfg.RefreshConcurrency)
	var wg sync.WaitGroup
	for _, e := range due {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			out := r.flight(ctx, e.Domain, r.refresh)
			switch {
			case out.refreshErr != nil:
				failed.Add(1)
			case out.refreshed:
				refreshed.Add(1)
			}
		})
	}
	wg.Wait()
	res.Refreshed, res.Failed = int(refreshed.Load()), int(failed.Load())
	return res, err
}

// refresh refreshes the cached policy of domain if it is still due, and
// returns the decision for domain with the refresh's outcome. It runs in
// the domain's singleflight, so Decide calls for the domain meanwhile
// wait for it and take its decision.
func (r *Resolver) refresh(ctx context.Context, domain string) outcome {
	now := r.cfg.Now()
	e, err := r.cfg.Cache.Get(ctx, domain)
	if err != nil || e.Expired(now) || e.RefreshAt.IsZero() || e.RefreshAt.After(now) {
		// Gone, or refreshed meanwhile (perhaps by another process).
		return r.update(ctx, domain)
	}
	id, confirmed := e.ID, false
	rec, _, lookupErr := sts.LookupRecord(ctx, r.cfg.DNS, domain)
	if lookupErr == nil {
		id, confirmed = rec.ID, rec.ID == e.ID
	}
	var fresh *cache.Entry
	if n := r.negative(ctx, domain); n != nil && n.Kind == cache.FetchFailed && n.ID == id {
		err = fmt.Errorf("policy of id %s not fetched again before %s (RFC 8461 §3.3): %s", id, n.Expires.Format(time.RFC3339), n.Reason)
	} else {
		fresh, err = r.fetch(ctx, domain, id)
	}
	r.cfg.Observer.Refreshed(domain, err)
	if err == nil {
		return outcome{d: policyDecision(fresh, SourceFetch, "policy fetched again by the proactive refresh (RFC 8461 §10.2)"), refreshed: true}
	}
	c := *e
	c.RefreshAt = now.Add(min(max(e.Expires.Sub(now)/4, r.cfg.FetchRetry), MaxRefreshRetry))
	if confirmed {
		c.Checked = now
	}
	r.put(ctx, &c)
	out := outcome{d: policyDecision(&c, SourceStale, "the proactive refresh failed; the unexpired cached policy applies (RFC 8461 §5.1, §10.2): "+err.Error()), refreshErr: err}
	if e.Policy.Mode == sts.ModeNone {
		r.cfg.Logger.InfoContext(ctx, "MTA-STS policy refresh failed; cached mode is none", "domain", domain, "err", err)
		return out
	}
	r.cfg.Logger.WarnContext(ctx, "MTA-STS policy refresh failed; the cached policy applies until it expires",
		"domain", domain, "mode", e.Policy.Mode, "expires", e.Expires, "retry", c.RefreshAt, "err", err)
	r.cfg.Observer.RefreshFailed(domain, e.Policy, err)
	return out
}
