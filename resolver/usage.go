package resolver

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtasts/mtasts/cache"
)

// Defaults of the refresh of what is used (Config.RefreshUsedWithin,
// Config.DropUnusedAfter).
const (
	// DefaultRefreshUsedWithin: a cached policy is refreshed ahead of its
	// expiry (RFC 8461 §10.2) only if its domain was looked up within
	// this time, so that a busy MTA does not fetch again, forever, the
	// policies of every domain it once mailed.
	DefaultRefreshUsedWithin = 30 * 24 * time.Hour
	// DefaultDropUnusedAfter: a cached policy whose domain was not looked
	// up for this long is removed before it expires.
	DefaultDropUnusedAfter = 90 * 24 * time.Hour
	// usedResolution: a process records the use of a domain at most this
	// often.
	usedResolution = time.Hour
)

// usage records which domains are looked up (cache.UsageStore), for the
// refresh to leave alone the policies nobody uses.
//
// A use is recorded when a decision with a policy needed the network,
// which for a domain in use happens at each id re-check (RecheckInterval),
// and at most once per usedResolution per domain and process; with a
// RecheckInterval over a quarter of the limits, decisions from the cache
// record it too. The
// time is kept in the cache, so that with a shared cache a policy any MTA
// uses counts as used. A due policy whose domain has no recorded use
// counts as used now (a cache from before this record existed).
type usage struct {
	store cache.UsageStore // nil: every policy counts as used
	// marked holds, by domain, when this process last recorded a use
	// (*atomic.Int64 of Unix nanoseconds), read without a lock on every
	// decision when onHit; markedN counts its keys, cleared at
	// cache.DefaultMemorySize.
	marked    sync.Map
	markedN   atomic.Int64
	onHit     bool          // record uses answered from the cache too
	within    time.Duration // refresh only what was used within; <= 0: all
	dropAfter time.Duration // drop what was unused for; <= 0: never
}

func newUsage(cfg Config) *usage {
	u := &usage{within: cfg.RefreshUsedWithin, dropAfter: cfg.DropUnusedAfter}
	// The id re-checks record uses often enough unless they are rare
	// next to the limits; only then do the decisions from the cache,
	// every lookup of a busy MTA, pay for it.
	window := u.within
	if window <= 0 || u.dropAfter > 0 && u.dropAfter < window {
		window = u.dropAfter
	}
	u.onHit = window > 0 && cfg.RecheckInterval >= window/4
	if u.within > 0 || u.dropAfter > 0 {
		u.store, _ = cfg.Cache.(cache.UsageStore)
	}
	return u
}

// markUsed records that domain was asked for at now, if a policy applies
// to it and the last record of this process is older than
// usedResolution.
func (r *Resolver) markUsed(ctx context.Context, domain string, policy bool, now time.Time) {
	u := r.usage
	if u.store == nil || !policy {
		return
	}
	at := now.UnixNano()
	if v, ok := u.marked.Load(domain); ok {
		last := v.(*atomic.Int64)
		if t := last.Load(); at >= t && at-t < int64(usedResolution) {
			return
		}
		last.Store(at)
	} else {
		if u.markedN.Add(1) > cache.DefaultMemorySize {
			u.marked.Clear()
			u.markedN.Store(1)
		}
		last := new(atomic.Int64)
		last.Store(at)
		u.marked.Store(domain, last)
	}
	if err := u.store.MarkUsed(ctx, domain, now); err != nil {
		r.cacheError(ctx, "mark used", domain, err)
	}
}

// unusedFilter returns the policies of due worth refreshing: those used
// within RefreshUsedWithin. Of the others, those unused for
// DropUnusedAfter are removed from the cache and counted in dropped; the
// rest are counted in skipped and left until their next refresh time, a
// RefreshInterval later. When the record of uses cannot be read, all are
// refreshed.
func (r *Resolver) unusedFilter(ctx context.Context, due []*cache.Entry) (keep []*cache.Entry, skipped, dropped int) {
	u := r.usage
	if u.store == nil || len(due) == 0 {
		return due, 0, 0
	}
	names := make([]string, len(due))
	for i, e := range due {
		names[i] = e.Domain
	}
	last, err := u.store.LastUsed(ctx, names)
	if err != nil {
		r.cacheError(ctx, "last used", "", err)
		return due, 0, 0
	}
	now := r.cfg.Now()
	for _, e := range due {
		used, ok := last[e.Domain]
		if !ok {
			// No record yet: the grace period starts now.
			if err := u.store.MarkUsed(ctx, e.Domain, now); err != nil {
				r.cacheError(ctx, "mark used", e.Domain, err)
			}
			used = now
		}
		idle := now.Sub(used)
		switch {
		case u.dropAfter > 0 && idle >= u.dropAfter:
			dropped++
			r.drop(ctx, e, idle)
		case u.within > 0 && idle >= u.within:
			skipped++
			c := *e
			c.RefreshAt = now.Add(r.cfg.RefreshInterval)
			r.put(ctx, &c)
			r.cfg.Logger.DebugContext(ctx, "MTA-STS policy not refreshed: domain not looked up recently",
				"domain", e.Domain, "last_used", used, "expires", e.Expires)
			r.cfg.Observer.Unused(e.Domain, false)
		default:
			keep = append(keep, e)
		}
	}
	return keep, skipped, dropped
}

// drop removes the cached policy of a domain unused for idle.
func (r *Resolver) drop(ctx context.Context, e *cache.Entry, idle time.Duration) {
	if err := r.cfg.Cache.Delete(ctx, e.Domain); err != nil {
		r.cacheError(ctx, "delete", e.Domain, err)
		return
	}
	if err := r.usage.store.ForgetUsed(ctx, e.Domain); err != nil {
		r.cacheError(ctx, "forget used", e.Domain, err)
	}
	r.usage.marked.Delete(e.Domain) // markedN counts it still: a clear comes sooner
	r.cfg.Logger.InfoContext(ctx, "MTA-STS policy dropped from the cache: domain not looked up recently",
		"domain", e.Domain, "idle", idle.Round(time.Hour), "expires", e.Expires)
	r.cfg.Observer.Unused(e.Domain, true)
}
