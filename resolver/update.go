package resolver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/sts"
)

// update decides for domain with network work. It runs once per domain at
// a time (see flight), so it first looks at the cache again: the work may
// have been done by the call that just finished.
func (r *Resolver) update(ctx context.Context, domain string) outcome {
	return outcome{d: r.updateDecision(ctx, domain)}
}

// updateDecision is update's decision.
func (r *Resolver) updateDecision(ctx context.Context, domain string) Decision {
	now := r.cfg.Now()
	e, err := r.cfg.Cache.Get(ctx, domain)
	switch {
	case err == nil && e.Expired(now):
		e = nil
	case err != nil && !errors.Is(err, cache.ErrNotFound):
		// Nothing is known about the cache's contents. The memory layer
		// of cache.Layered holds every policy this process cached; what
		// is left is discovered afresh, as RFC 8461 does for a sender
		// without a cache.
		r.cacheError(ctx, "get", domain, err)
		e = nil
	case err != nil:
		e = nil
	}
	if e != nil && r.fresh(e, now) {
		return policyDecision(e, SourceCache, reasonCached)
	}
	if e == nil {
		if n := r.negative(ctx, domain); n != nil {
			return r.negativeDecision(n)
		}
	}
	rec, _, err := sts.LookupRecord(ctx, r.cfg.DNS, domain)
	if e != nil {
		return r.revalidate(ctx, e, rec, err)
	}
	return r.discover(ctx, domain, rec, err)
}

// revalidate compares the id of the unexpired cached policy e with the
// TXT record just looked up (RFC 8461 §5.1).
func (r *Resolver) revalidate(ctx context.Context, e *cache.Entry, rec *sts.Record, lookupErr error) Decision {
	now := r.cfg.Now()
	switch {
	case lookupErr != nil && !errors.Is(lookupErr, sts.ErrNoRecord) && !errors.Is(lookupErr, sts.ErrRecordSyntax):
		r.touch(ctx, e, now)
		return policyDecision(e, SourceStale, "the TXT lookup failed; the unexpired cached policy applies (RFC 8461 §5.1): "+lookupErr.Error())
	case lookupErr != nil:
		r.touch(ctx, e, now)
		return policyDecision(e, SourceStale, "no valid TXT record, which alone never erases an unexpired cached policy (RFC 8461 §5.1): "+lookupErr.Error())
	case rec.ID == e.ID:
		r.touch(ctx, e, now)
		return policyDecision(e, SourceCache, "unexpired cached policy, its id confirmed by the TXT record just now (RFC 8461 §5.1)")
	}
	if n := r.negative(ctx, e.Domain); n != nil && n.Kind == cache.FetchFailed && n.ID == rec.ID {
		return policyDecision(e, SourceStale, fmt.Sprintf(
			"the TXT id changed to %s, whose policy failed to fetch at %s and is not retried before %s (RFC 8461 §3.3); the unexpired cached policy applies (§5.1): %s",
			rec.ID, n.Created.Format(time.RFC3339), n.Expires.Format(time.RFC3339), n.Reason))
	}
	fresh, err := r.fetch(ctx, e.Domain, rec.ID)
	if err != nil {
		r.touch(ctx, e, now)
		return policyDecision(e, SourceStale, fmt.Sprintf(
			"the TXT id changed from %s to %s but fetching the new policy failed; a failure never replaces an unexpired cached policy (RFC 8461 §5.1): %v",
			e.ID, rec.ID, err))
	}
	return policyDecision(fresh, SourceFetch, fmt.Sprintf("the TXT id changed from %s to %s: new policy fetched (RFC 8461 §5.1)", e.ID, rec.ID))
}

// discover looks for the policy of a domain without a cached one, the
// TXT record just looked up (RFC 8461 §3).
func (r *Resolver) discover(ctx context.Context, domain string, rec *sts.Record, lookupErr error) Decision {
	now := r.cfg.Now()
	switch {
	case lookupErr != nil && !errors.Is(lookupErr, sts.ErrNoRecord) && !errors.Is(lookupErr, sts.ErrRecordSyntax):
		kind := r.cfg.dnsFailure(domain)
		return Decision{Domain: domain, Kind: kind, Source: SourceDNS, Reason: fmt.Sprintf(
			"the TXT lookup failed temporarily and no policy is cached; a temporary failure is not the absence of a record, so the answer is %s: %v",
			kind, lookupErr)}
	case lookupErr != nil:
		r.putNegative(ctx, &cache.Negative{Domain: domain, Kind: cache.NoRecord, Reason: lookupErr.Error(),
			Created: now, Expires: now.Add(r.cfg.NegativeTTL)})
		return noPolicy(domain, SourceDNS, "no valid MTA-STS record (RFC 8461 §3.1): "+lookupErr.Error())
	}
	fresh, err := r.fetch(ctx, domain, rec.ID)
	if err != nil {
		d := noPolicy(domain, SourceFetch, fmt.Sprintf(
			"TXT id %s found but the policy could not be fetched; with no cached policy, mail goes as if the domain had none (RFC 8461 §3.3), and the fetch is not retried for %v: %v",
			rec.ID, r.cfg.FetchRetry, err))
		d.Failure = fetchFailureOf(err)
		return d
	}
	return policyDecision(fresh, SourceFetch, "policy fetched (RFC 8461 §3.3)")
}

// fetch fetches the policy of domain published under id and caches it,
// or remembers the failure for FetchRetry (RFC 8461 §3.3).
func (r *Resolver) fetch(ctx context.Context, domain, id string) (*cache.Entry, error) {
	start := time.Now()
	f, err := sts.FetchPolicy(ctx, domain, r.cfg.Fetch)
	r.cfg.Observer.Fetched(domain, err, time.Since(start))
	now := r.cfg.Now()
	if err != nil {
		r.cfg.Logger.WarnContext(ctx, "MTA-STS policy fetch failed", "domain", domain, "id", id, "err", err)
		r.putNegative(ctx, &cache.Negative{Domain: domain, Kind: cache.FetchFailed, ID: id, Reason: err.Error(),
			Created: now, Expires: now.Add(r.cfg.FetchRetry)})
		r.failures.Put(domain, fetchFailure{id, fetchFailureOf(err)})
		return nil, err
	}
	e := &cache.Entry{
		Domain: domain, ID: id, Text: string(f.Body), Policy: f.Policy,
		Fetched: now, Expires: now.Add(f.Policy.MaxAgeDuration()), Checked: now,
		RefreshAt: r.refreshAt(now, f.Policy.MaxAgeDuration()),
	}
	r.cfg.Logger.InfoContext(ctx, "MTA-STS policy fetched", "domain", domain, "id", id, "mode", f.Policy.Mode, "max_age", f.Policy.MaxAge)
	r.put(ctx, e)
	if err := r.cfg.Cache.DeleteNegative(ctx, domain); err != nil {
		r.cacheError(ctx, "delete negative", domain, err)
	}
	return e, nil
}

// refreshAt returns when a policy fetched at now with maxAge is due for a
// proactive refresh (RFC 8461 §10.2): after RefreshInterval or half its
// max_age, whichever is shorter, brought forward by up to a tenth at
// random so that refreshes spread out; zero for short-lived policies.
func (r *Resolver) refreshAt(now time.Time, maxAge time.Duration) time.Time {
	period := min(r.cfg.RefreshInterval, maxAge/2)
	if period < r.cfg.FetchRetry {
		return time.Time{}
	}
	return now.Add(period - r.cfg.Jitter(period/10))
}

// touch records that e's id was just compared with DNS.
func (r *Resolver) touch(ctx context.Context, e *cache.Entry, now time.Time) {
	c := *e
	c.Checked = now
	r.put(ctx, &c)
}

// put stores a policy entry, logging failures.
func (r *Resolver) put(ctx context.Context, e *cache.Entry) {
	if err := r.cfg.Cache.Put(ctx, e); err != nil {
		r.cacheError(ctx, "put", e.Domain, err)
	}
}

// putNegative stores a negative entry, logging failures.
func (r *Resolver) putNegative(ctx context.Context, n *cache.Negative) {
	if err := r.cfg.Cache.PutNegative(ctx, n); err != nil {
		r.cacheError(ctx, "put negative", n.Domain, err)
	}
}
