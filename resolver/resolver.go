package resolver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/internal/lru"
	"github.com/mtasts/mtasts/sts"
)

// Resolver decides, for each next hop, what RFC 8461 asks of a sending
// MTA. It is safe for concurrent use; create it with New.
type Resolver struct {
	cfg   Config
	group singleflight.Group              // one update per domain at a time
	dane  *lru.Cache[string, daneVerdict] // nil when DANE detection is off
	mx    mxTable                         // MX hosts by domain
	// failures are the result types of the failed fetches of this process.
	failures *lru.Cache[string, fetchFailure]
	slots    *lookupSlots // bounds network work in flight
	// view is the cache's Get, or its View that does not copy the entry.
	view func(ctx context.Context, domain string) (*cache.Entry, error)
	// overrides are the operator's (override.go), usage the record of
	// the domains in use (usage.go).
	overrides *overrides
	usage     *usage

	base   context.Context // canceled by Close: ends all network work
	stop   context.CancelFunc
	mu     sync.Mutex // guards closed and work.Add
	closed bool
	work   sync.WaitGroup // running network work
}

// New returns a Resolver for cfg, or an error for a setting it cannot use.
func New(cfg Config) (*Resolver, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Resolver{cfg: cfg, view: cfg.Cache.Get, slots: newLookupSlots(cfg.MaxLookupsInFlight), failures: lru.New[string, fetchFailure](maxFetchFailures)}
	if v, ok := cfg.Cache.(viewer); ok {
		r.view = v.View
	}
	r.overrides = &overrides{ttl: cfg.OverrideTTL, now: cfg.Now, r: r}
	r.overrides.store, _ = cfg.Cache.(cache.OverrideStore)
	r.usage = newUsage(cfg)
	r.base, r.stop = context.WithCancel(context.Background())
	if cfg.DANE != nil {
		r.dane = lru.New[string, daneVerdict](DefaultDANESize)
	}
	return r, nil
}

// viewer is a cache that can return a stored entry without copying it,
// as cache.Memory does, for the lookups answered from the cache.
type viewer interface {
	View(ctx context.Context, domain string) (*cache.Entry, error)
}

// Cache returns the cache the Resolver uses.
func (r *Resolver) Cache() cache.Cache { return r.cfg.Cache }

// reasonCached is the reason of a decision from the cache without
// network work.
const reasonCached = "unexpired cached policy, its id compared with the TXT record within the re-check interval (RFC 8461 §5.1)"

// Decide returns what to do with mail for a policy domain (RFC 8461
// §3.4), normalized as sts.NormalizeDomain does; a name in another form
// (upper case, a trailing dot, U-labels) is normalized first. Which
// domain is the policy domain of a next hop (a smart host, an address
// literal, a port) is the caller's to say: enforce.ParseNextHop does it
// for Postfix's keys.
//
// The rules of RFC 8461 §3.3, §5.1 and §10.2, in the order applied:
//
//   - With DANE detection on, a domain whose MX hosts have
//     DNSSEC-authenticated TLSA records is answered DANE (§2).
//   - An operator's override in force for the domain (cache.Override)
//     comes next: see SourceOverride.
//   - An unexpired cached policy is answered from the cache. Once its TXT
//     id was last compared longer than RecheckInterval ago, the id is
//     looked up again first: the same id confirms the policy; a new id
//     makes the resolver fetch the new policy. A failed fetch, a missing
//     record or a failed lookup leave the cached policy in force
//     (SourceStale): only a successful fetch replaces it.
//   - Without a cached policy, a remembered "no record" (NegativeTTL) or
//     failed fetch (FetchRetry, at least 5 minutes, §3.3) is answered
//     NoPolicy without network work.
//   - Otherwise the TXT record is looked up: a temporary DNS failure is
//     Tempfail (or NoPolicy if Config.DNSFailure says so), never
//     NoPolicy by default; no valid record is NoPolicy, remembered; a
//     record leads to fetching the policy, which is cached on success,
//     while a failure is NoPolicy (§3.3), remembered for that id.
//
// Concurrent calls for one domain share one lookup and one fetch. The
// Decision is always usable. The error is not nil only when domain is not
// a valid domain name (the Decision is then NoPolicy and the error wraps
// sts.ErrInvalidDomain) or when ctx ended before the decision was made
// (Tempfail, and ctx's error); DNS, HTTPS and cache failures are decisions,
// explained by Decision.Reason.
func (r *Resolver) Decide(ctx context.Context, domain string) (Decision, error) {
	start := time.Now()
	d, err := r.decide(ctx, domain)
	r.cfg.Observer.Decided(d, time.Since(start))
	return d, err
}

func (r *Resolver) decide(ctx context.Context, name string) (Decision, error) {
	domain, err := sts.NormalizeDomain(name)
	if err != nil {
		return noPolicy("", SourceNextHop, "not a domain name: "+err.Error()), fmt.Errorf("resolver: %w", err)
	}
	if r.dane != nil {
		if d, ok := r.checkDANE(ctx, domain); ok {
			return d, nil
		}
	}
	now := r.cfg.Now() // one clock reading for the override and the cache
	if ov := r.overrides.find(ctx, domain, now); ov != nil {
		return r.overridden(ctx, domain, ov, now)
	}
	if d, ok := r.fromCache(ctx, domain, now); ok {
		return d, nil
	}
	return r.lookup(ctx, domain)
}

// overridden is the decision for a domain with an override in force.
func (r *Resolver) overridden(ctx context.Context, domain string, ov *cache.Override, now time.Time) (Decision, error) {
	if ov.Mode != sts.ModeEnforce {
		return r.relaxed(ctx, domain, ov), nil
	}
	d, ok := r.fromCache(ctx, domain, now)
	var err error
	if !ok {
		d, err = r.lookup(ctx, domain)
	}
	return enforced(d, ov), err
}

// lookup decides with network work, shared with the other callers for
// domain.
func (r *Resolver) lookup(ctx context.Context, domain string) (Decision, error) {
	out := r.flight(ctx, domain, r.update)
	if out.canceled {
		return Decision{Domain: domain, Kind: Tempfail, Source: SourceDNS,
			Reason: "gave up waiting for the policy lookup: " + ctx.Err().Error()}, ctx.Err()
	}
	r.markUsed(ctx, domain, out.d.Policy != nil, r.cfg.Now())
	return out.d, nil
}

// fromCache answers from the cache without network work, if it can: an
// unexpired policy whose id was compared recently, or, with no policy
// cached, a negative entry.
func (r *Resolver) fromCache(ctx context.Context, domain string, now time.Time) (Decision, bool) {
	e, err := r.view(ctx, domain) // only read
	if err == nil && e.Expired(now) {
		err = cache.ErrNotFound // as Get would say
	}
	switch {
	case err == nil && r.fresh(e, now):
		if r.usage.onHit {
			r.markUsed(ctx, domain, true, now)
		}
		return policyDecision(e, SourceCache, reasonCached), true
	case err == nil || !errors.Is(err, cache.ErrNotFound):
		return Decision{}, false // to check, or the cache failed: see update
	}
	if n := r.negative(ctx, domain); n != nil {
		return r.negativeDecision(n), true
	}
	return Decision{}, false
}

// fresh reports whether e's id was compared with DNS recently enough. A
// check time in the future (another process's clock, through a shared
// cache) does not count.
func (r *Resolver) fresh(e *cache.Entry, now time.Time) bool {
	age := now.Sub(e.Checked)
	return age >= 0 && age < r.cfg.RecheckInterval
}

// negative returns the unexpired negative entry of domain, or nil.
func (r *Resolver) negative(ctx context.Context, domain string) *cache.Negative {
	n, err := r.cfg.Cache.GetNegative(ctx, domain)
	if err != nil {
		if !errors.Is(err, cache.ErrNotFound) {
			r.cacheError(ctx, "get negative", domain, err)
		}
		return nil
	}
	if n.Expired(r.cfg.Now()) {
		return nil
	}
	return n
}

// negativeDecision answers from a negative entry.
func (r *Resolver) negativeDecision(n *cache.Negative) Decision {
	if n.Kind != cache.FetchFailed {
		return noPolicy(n.Domain, SourceNegative, "no MTA-STS record, as looked up at "+n.Created.Format(time.RFC3339)+": "+n.Reason)
	}
	d := noPolicy(n.Domain, SourceNegative, fmt.Sprintf(
		"fetching the policy of id %s failed at %s and is not retried before %s (RFC 8461 §3.3); without a cached policy, mail goes as if the domain had none: %s",
		n.ID, n.Created.Format(time.RFC3339), n.Expires.Format(time.RFC3339), n.Reason))
	d.Failure = FetchError
	if f, ok := r.failures.Get(n.Domain); ok && f.id == n.ID {
		d.Failure = f.failure
	}
	return d
}

// maxFetchFailures bounds the fetch failures whose result types are
// remembered.
const maxFetchFailures = 10_000

// fetchFailure is the TLS-RPT result type of a failed fetch of the policy
// of id, which negative entries do not keep.
type fetchFailure struct {
	id      string
	failure FetchFailure
}

// cacheError logs and counts a cache failure.
func (r *Resolver) cacheError(ctx context.Context, op, domain string, err error) {
	r.cfg.Logger.WarnContext(ctx, "policy cache failed", "op", op, "domain", domain, "err", err)
	r.cfg.Observer.CacheError(op, err)
}
