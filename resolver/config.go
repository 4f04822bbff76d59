package resolver

import (
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/sts"
)

// Defaults of Config.
const (
	// DefaultRecheckInterval: an unexpired cached policy is answered
	// without DNS for this long after its TXT id was last compared. The
	// RFC asks senders to compare the id when sending (§5.1) without
	// saying how often; a minute costs at most one TXT query per domain
	// per minute, and a policy change reaches mail within a minute.
	DefaultRecheckInterval = time.Minute
	// DefaultNegativeTTL: how long "no MTA-STS record" is remembered.
	DefaultNegativeTTL = 5 * time.Minute
	// MinFetchRetry: RFC 8461 §3.3 says to wait at least 5 minutes after
	// a failed fetch before trying again for the same id.
	MinFetchRetry = 5 * time.Minute
	// DefaultRefreshInterval: cached policies are fetched again about
	// daily, as RFC 8461 §10.2 suggests, or at half their max_age if that
	// is shorter.
	DefaultRefreshInterval = 24 * time.Hour
	// MaxRefreshRetry: after a failed refresh the next try comes after a
	// quarter of the policy's remaining lifetime, at least FetchRetry and
	// at most this.
	MaxRefreshRetry = time.Hour
	// DefaultRefreshTick: how often Run looks for policies due.
	DefaultRefreshTick = time.Minute
	// DefaultRefreshConcurrency: refreshes run in parallel at most.
	DefaultRefreshConcurrency = 4
	// DefaultRefreshBatch: policies refreshed per tick at most.
	DefaultRefreshBatch = 1000
	// DefaultTimeout bounds the network work of one decision: a TXT
	// lookup and a policy fetch (at most sts.DefaultFetchTimeout).
	DefaultTimeout = 90 * time.Second
	// DefaultDANESize bounds the number of remembered DANE verdicts.
	DefaultDANESize = 100_000
)

// Config configures a Resolver. Only what differs from the defaults needs
// to be set; New fills in the rest.
type Config struct {
	// DNS looks up _mta-sts TXT records; nil means net.DefaultResolver.
	// It must tell "not found" from temporary failures (see
	// sts.Resolver); the project's dnsx.Client does.
	DNS sts.Resolver
	// Fetch configures policy fetches (roots, dialer, timeout, size
	// limit); see sts.FetchOptions. Its clock (Fetch.Now) checks
	// certificates and is separate from Now.
	Fetch sts.FetchOptions
	// Cache stores policies and negative answers; nil means a memory
	// cache of cache.DefaultMemorySize domains with clock Now. A cache
	// opened with cache.Open must use the same clock as the Resolver.
	Cache cache.Cache
	// DANE enables DANE detection (RFC 8461 §2) when not nil: a next hop
	// whose MX hosts have DNSSEC-authenticated TLSA records is answered
	// with Kind DANE. It needs a DNS resolver that validates DNSSEC and a
	// trustworthy path to it; see NewDANEResolver, and ValidatesDNSSEC to
	// turn it on where it can work.
	DANE DANEResolver
	// MX looks up MX records for Resolver.MX, which an MTA that cannot
	// match MX host names against the policy itself needs (RFC 8461
	// §4.1); nil means Resolver.MX fails. See NewMXLookup.
	MX MXLookup

	// Now is the clock of every cache and refresh decision; nil means
	// time.Now.
	Now func() time.Time
	// Jitter returns a random duration in [0, n) that spreads refreshes
	// (RFC 8461 §10.2); nil means uniformly random.
	Jitter func(n time.Duration) time.Duration
	// Logger receives what the resolver does: fetches and refreshes at
	// Info, failures at Warn; nil means no logging.
	Logger *slog.Logger
	// Observer receives metrics and alerts; nil means NopObserver.
	Observer Observer

	// DNSFailure returns the decision for a domain whose TXT lookup
	// failed temporarily while no policy is cached: Tempfail, so that the
	// MTA retries later, or NoPolicy, for those who prefer delivering with
	// opportunistic TLS over deferring. A cached policy applies whatever
	// it says (RFC 8461 §5.1). It is asked only for such decisions; nil,
	// or any other answer, means Tempfail. Per-domain settings are the
	// caller's: the enforce service answers from its zone table.
	DNSFailure func(domain string) Kind

	// RecheckInterval is how long a cached policy is used before its id
	// is compared with the TXT record again; 0 means
	// DefaultRecheckInterval, a negative value means on every Decide.
	RecheckInterval time.Duration
	// NegativeTTL is how long "no record" is remembered; 0 means
	// DefaultNegativeTTL.
	NegativeTTL time.Duration
	// FetchRetry is how long a failed fetch is remembered, for the same
	// id, before it is tried again; 0 means, and less is raised to,
	// MinFetchRetry (RFC 8461 §3.3).
	FetchRetry time.Duration
	// RefreshInterval is the age at which a cached policy is fetched
	// again (RFC 8461 §10.2), lowered to half its max_age for short-lived
	// policies; 0 means DefaultRefreshInterval. Policies whose max_age is
	// under twice FetchRetry are not refreshed ahead: they expire and are
	// fetched on the next Decide.
	RefreshInterval time.Duration
	// RefreshTick is how often Run looks for policies due; 0 means
	// DefaultRefreshTick.
	RefreshTick time.Duration
	// RefreshConcurrency bounds parallel refreshes; 0 means
	// DefaultRefreshConcurrency.
	RefreshConcurrency int
	// Timeout bounds the network work of one decision or refresh; 0
	// means DefaultTimeout. It runs independently of the callers'
	// contexts, since many callers may wait on one lookup.
	Timeout time.Duration
	// MaxLookupsInFlight bounds the network work (the lookups and fetch
	// for one domain) running at once. Beyond it, a decision that needs
	// the network is made at once without it: the unexpired cached
	// policy if there is one, else Tempfail (SourceOverload). 0 means
	// DefaultMaxLookupsInFlight, a negative value no limit.
	MaxLookupsInFlight int

	// RefreshUsedWithin limits the proactive refresh to the policies of
	// domains looked up within this time (see usage.go); 0 means
	// DefaultRefreshUsedWithin, a negative value all policies.
	RefreshUsedWithin time.Duration
	// DropUnusedAfter removes from the cache, at their refresh time, the
	// policies of domains not looked up for this long; 0 means
	// DefaultDropUnusedAfter, a negative value never.
	DropUnusedAfter time.Duration
	// OverrideTTL is how long the overrides read from the cache are used
	// before they are read again (see SourceOverride); 0 means
	// DefaultOverrideTTL.
	OverrideTTL time.Duration
}

// withDefaults returns cfg with every zero setting replaced by its
// default, or an error for a setting it cannot use.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = func(n time.Duration) time.Duration {
			if n <= 0 {
				return 0
			}
			return rand.N(n)
		}
	}
	if cfg.Cache == nil {
		cfg.Cache = cache.NewMemory(0, cfg.Now)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = NopObserver{}
	}
	orDefault := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	orDefault(&cfg.RecheckInterval, DefaultRecheckInterval)
	orDefault(&cfg.NegativeTTL, DefaultNegativeTTL)
	cfg.FetchRetry = max(cfg.FetchRetry, MinFetchRetry)
	orDefault(&cfg.RefreshInterval, DefaultRefreshInterval)
	orDefault(&cfg.RefreshTick, DefaultRefreshTick)
	orDefault(&cfg.Timeout, DefaultTimeout)
	orDefault(&cfg.RefreshUsedWithin, DefaultRefreshUsedWithin)
	orDefault(&cfg.DropUnusedAfter, DefaultDropUnusedAfter)
	orDefault(&cfg.OverrideTTL, DefaultOverrideTTL)
	if cfg.RefreshConcurrency <= 0 {
		cfg.RefreshConcurrency = DefaultRefreshConcurrency
	}
	return cfg, nil
}

// dnsFailure is the decision for domain after a temporary DNS failure with
// no policy cached (see Config.DNSFailure).
func (cfg *Config) dnsFailure(domain string) Kind {
	if cfg.DNSFailure != nil && cfg.DNSFailure(domain) == NoPolicy {
		return NoPolicy
	}
	return Tempfail
}
