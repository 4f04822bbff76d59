package enforce

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/rootca"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
)

// dnsBudget is the time a decision may spend on DNS on top of the policy
// fetch's own timeout.
const dnsBudget = 30 * time.Second

// openResolver opens the cache of cfg ("" meaning a memory cache of this
// process only) and returns a resolver over it; the caller closes the
// cache. Errors are for the user (bad settings, an unusable cache).
func openResolver(ctx context.Context, cfg *Config, o *Options, logger *slog.Logger, observer resolver.Observer) (*resolver.Resolver, cache.Cache, error) {
	url := cfg.Cache
	if url == "" {
		url = "memory:"
	}
	if err := cfg.prepareStateDir(logger); err != nil {
		return nil, nil, err
	}
	c, err := cache.Open(ctx, url, cache.Options{Now: o.Now})
	if err != nil {
		return nil, nil, err
	}
	r, err := newResolver(cfg, o, c, logger, observer)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return r, c, nil
}

// newResolver returns a resolver for cfg over the open cache c.
func newResolver(cfg *Config, o *Options, c cache.Cache, logger *slog.Logger, observer resolver.Observer) (*resolver.Resolver, error) {
	dnsClient, err := dnsx.NewFromAddr(cfg.Resolver)
	if err != nil {
		return nil, fmt.Errorf("DNS resolver: %w", err)
	}
	roots, err := rootca.Load(cfg.CAFile, o.Getenv)
	if err != nil {
		return nil, err
	}
	dial := o.Dial
	if dial == nil && cfg.Resolver != "" {
		// The resolver setting answers the policy hosts' addresses too.
		dial = dnsClient.Dialer(nil)
	}
	rc := resolver.Config{
		DNS: dnsClient,
		Fetch: sts.FetchOptions{
			RootCAs:     roots,
			DialContext: dial,
			Timeout:     cfg.Timeout,
			Now:         o.Now,
			UserAgent:   o.UserAgent,
		},
		Cache:    c,
		MX:       resolver.NewMXLookup(dnsClient),
		Now:      o.Now,
		Logger:   logger,
		Observer: observer,
		// The zone table's answer, asked only for a DNS failure.
		DNSFailure: func(domain string) resolver.Kind {
			z, _ := cfg.zone(domain)
			return resolver.Kind(z.OnDNSFailure)
		},
		Timeout: cfg.Timeout + dnsBudget,

		RecheckInterval:    cfg.RecheckInterval,
		MaxLookupsInFlight: cfg.MaxLookupsInFlight,
		RefreshUsedWithin:  offIfZero(cfg.RefreshUsedWithin),
		DropUnusedAfter:    offIfZero(cfg.DropUnusedAfter),
	}
	if daneOn(cfg, dnsClient, logger) {
		rc.DANE = resolver.NewDANEResolver(dnsClient)
	}
	r, err := resolver.New(rc)
	if err != nil {
		return nil, fmt.Errorf("resolver: %w", err)
	}
	return r, nil
}

// daneOn reports whether decisions check for DANE first (RFC 8461 §2: MTA-STS
// never overrides DANE): as configured, or, when not configured, if the
// resolver validates DNSSEC, since TLSA records can only be trusted
// through a validating resolver.
func daneOn(cfg *Config, c *dnsx.Client, logger *slog.Logger) bool {
	if cfg.DANE != nil {
		return *cfg.DANE
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ok, err := resolver.ValidatesDNSSEC(ctx, c)
	logger.Info("DANE detection", "enabled", ok && err == nil, "resolver_validates_dnssec", ok, "error", err)
	return ok && err == nil
}

// offIfZero maps a duration of the file, where 0 means off, to the
// resolver's, where a negative value does.
func offIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
