package resolver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/sts"
)

// DefaultOverrideTTL is the default of Config.OverrideTTL: an override
// added with "mtasts override add" reaches a running daemon within it.
const DefaultOverrideTTL = 5 * time.Second

// Overrides apply in Decide after the DANE check (RFC 8461 §2: MTA-STS,
// and so an override of it, never overrides DANE) and before the policy:
//
//   - mode none: the decision is None, as if the domain had no policy,
//     without any network work;
//   - mode testing: the decision is Testing, with the mx patterns of the
//     cached policy if there is one, without any network work; the
//     caller applies it as testing even where it would enforce testing
//     policies (enforce's strict_testing);
//   - mode enforce: the policy is decided as usual, and a policy in mode
//     testing is then enforced with its own mx patterns. Enforcing needs
//     mx patterns, so any other decision (no policy, none, tempfail,
//     DANE) stands, with the override attached and named in its reason.
//
// The overrides are read from the cache (cache.OverrideStore) and kept in
// memory for OverrideTTL, so that a decision costs no round trip to a
// shared cache; expiry is checked at each decision on the resolver's
// clock.

// overrides is the in-memory copy of the overrides of the cache.
type overrides struct {
	store cache.OverrideStore // nil: the cache keeps none
	ttl   time.Duration
	now   func() time.Time
	r     *Resolver // for logging and counting
	snap  atomic.Pointer[overrideSnapshot]
	load  sync.Mutex // one reload at a time
}

// overrideSnapshot is what the cache held at loaded, to be read again
// from stale on (both Unix nanoseconds, compared on every decision).
type overrideSnapshot struct {
	byDomain      map[string]*cache.Override
	loaded, stale int64
}

// find returns the override in force for domain, or nil, reloading the
// overrides when they are older than the TTL. While one caller reloads,
// others use the copy they have. It is small enough to be inlined in
// Decide, whose common case is a fresh copy without any override.
func (o *overrides) find(ctx context.Context, domain string, now time.Time) *cache.Override {
	s := o.snap.Load()
	if at := now.UnixNano(); s == nil || at >= s.stale || at < s.loaded {
		s = o.reload(ctx, s, now)
	}
	if len(s.byDomain) == 0 {
		return nil
	}
	return s.get(domain, now)
}

// get returns the override of domain in force at now, or nil.
func (s *overrideSnapshot) get(domain string, now time.Time) *cache.Override {
	if ov := s.byDomain[domain]; ov != nil && !ov.Expired(now) {
		return ov
	}
	return nil
}

// reload reads the overrides from the cache, unless another caller is
// doing so and old is usable. A failure keeps the old copy for another
// TTL.
func (o *overrides) reload(ctx context.Context, old *overrideSnapshot, now time.Time) *overrideSnapshot {
	if old != nil {
		if !o.load.TryLock() {
			return old
		}
	} else {
		o.load.Lock()
	}
	defer o.load.Unlock()
	if cur := o.snap.Load(); cur != old {
		return cur // reloaded meanwhile
	}
	if o.store == nil { // the cache keeps none: never look again
		next := &overrideSnapshot{stale: math.MaxInt64}
		o.snap.Store(next)
		return next
	}
	list, err := o.store.Overrides(ctx)
	next := &overrideSnapshot{byDomain: map[string]*cache.Override{}, loaded: now.UnixNano(), stale: now.Add(o.ttl).UnixNano()}
	switch {
	case err != nil:
		o.r.cacheError(ctx, "overrides", "", err)
		if old != nil {
			next.byDomain = old.byDomain
		}
	default:
		for _, ov := range list {
			next.byDomain[ov.Domain] = ov
		}
		o.logChanges(ctx, old, next, now)
	}
	o.snap.Store(next)
	return next
}

// logChanges logs the overrides that came into force or ended between two
// copies.
func (o *overrides) logChanges(ctx context.Context, old, next *overrideSnapshot, now time.Time) {
	log := o.r.cfg.Logger
	var before map[string]*cache.Override
	if old != nil {
		before = old.byDomain
	}
	for d, ov := range next.byDomain {
		if prev := before[d]; prev == nil || *prev != *ov {
			log.InfoContext(ctx, "override in force", "domain", d, "mode", ov.Mode, "actor", ov.Actor,
				"reason", ov.Reason, "created", ov.Created, "expires", ov.Expires)
		}
	}
	for d, ov := range before {
		if next.byDomain[d] == nil {
			how := "removed"
			if ov.Expired(now) {
				how = "expired"
			}
			log.InfoContext(ctx, "override ended", "domain", d, "mode", ov.Mode, "actor", ov.Actor, "how", how)
		}
	}
}

// active returns the overrides in force in the copy held, without
// reloading.
func (o *overrides) active() []*cache.Override {
	s := o.snap.Load()
	if s == nil {
		return nil
	}
	now := o.now()
	var out []*cache.Override
	for _, ov := range s.byDomain {
		if !ov.Expired(now) {
			out = append(out, ov)
		}
	}
	return out
}

// Overrides returns the overrides in force as the Resolver last read them
// from the cache (at most Config.OverrideTTL ago, or never when no
// decision was made yet), for metrics.
func (r *Resolver) Overrides() []*cache.Override { return r.overrides.active() }

// overrideReason explains a decision shaped by ov.
func overrideReason(ov *cache.Override) string {
	return fmt.Sprintf("operator override to mode %s by %s at %s, until %s: %s",
		ov.Mode, ov.Actor, ov.Created.Format(time.RFC3339), ov.Expires.Format(time.RFC3339), ov.Reason)
}

// relaxed is the decision of an override in mode none or testing.
func (r *Resolver) relaxed(ctx context.Context, domain string, ov *cache.Override) Decision {
	reason := overrideReason(ov) + "; the domain's policy is not applied"
	if ov.Mode == sts.ModeNone {
		return Decision{Domain: domain, Kind: None, Source: SourceOverride, Reason: reason, Override: ov}
	}
	d := Decision{Domain: domain, Kind: Testing, Source: SourceOverride, Reason: reason, Override: ov}
	if e, err := r.view(ctx, domain); err == nil && !e.Expired(r.cfg.Now()) {
		d = policyDecision(e, SourceOverride, reason)
		d.Kind, d.Override = Testing, ov
	} else if err != nil && !errors.Is(err, cache.ErrNotFound) {
		r.cacheError(ctx, "get", domain, err)
	}
	return d
}

// enforced applies an override in mode enforce to the decision d.
func enforced(d Decision, ov *cache.Override) Decision {
	d.Override = ov
	if d.Kind != Testing && d.Kind != Enforce || d.Policy == nil {
		d.Reason = fmt.Sprintf("%s; not applied, since there is no policy in mode testing to enforce: %s", overrideReason(ov), d.Reason)
		return d
	}
	d.Kind, d.Source = Enforce, SourceOverride
	d.Reason = fmt.Sprintf("%s; the policy (mode %s) is enforced: %s", overrideReason(ov), d.Policy.Mode, d.Reason)
	return d
}
