package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/internal/dnsx"
	// Imported under another name: the package's tests declare a
	// variable named resolver.
	mtastsresolver "github.com/mtasts/mtasts/resolver"
)

// resolverSetup is what "mtasts daemon" and "mtasts query" build their
// resolver from, so that both give the same answer.
type resolverSetup struct {
	net      netFlags // DNS server, CA file, timeout of each network operation
	cacheURL string   // "" means a memory cache of this process only
	zones    map[string]mtastsresolver.ZoneOptions
	dane     *bool         // nil: on when the resolver validates DNSSEC
	recheck  time.Duration // 0: the resolver's default
	logger   *slog.Logger
	observer mtastsresolver.Observer
}

// dnsBudget is the time a decision may spend on DNS on top of the policy
// fetch's own timeout.
const dnsBudget = 30 * time.Second

// newResolver opens the cache and returns a resolver over it; the caller
// closes the cache. Errors are for the user (bad flags, an unusable cache).
func newResolver(ctx context.Context, e *env, s resolverSetup) (*mtastsresolver.Resolver, cache.Cache, error) {
	url := s.cacheURL
	if url == "" {
		url = "memory:"
	}
	c, err := cache.Open(ctx, url, cache.Options{Now: e.now})
	if err != nil {
		return nil, nil, err
	}
	r, err := resolverOver(e, s, c)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return r, c, nil
}

// resolverOver returns a resolver for s over the open cache c.
func resolverOver(e *env, s resolverSetup, c cache.Cache) (*mtastsresolver.Resolver, error) {
	dnsClient, err := s.net.dnsClient()
	if err != nil {
		return nil, err
	}
	fetch, err := s.net.fetchOptions(e)
	if err != nil {
		return nil, err
	}
	cfg := mtastsresolver.Config{
		DNS:      dnsClient,
		Fetch:    fetch,
		Cache:    c,
		Now:      e.now,
		Logger:   s.logger,
		Observer: s.observer,
		Zones:    s.zones,
		Timeout:  s.net.timeout + dnsBudget,

		RecheckInterval: s.recheck,
	}
	if s.daneOn(dnsClient) {
		cfg.DANE = mtastsresolver.NewDANEResolver(dnsClient)
	}
	r, err := mtastsresolver.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("resolver: %w", err)
	}
	return r, nil
}

// daneOn reports whether decisions check for DANE first (RFC 8461 §2: MTA-STS
// never overrides DANE): as configured, or, when not configured, if the
// resolver validates DNSSEC, since TLSA records can only be trusted
// through a validating resolver.
func (s resolverSetup) daneOn(c *dnsx.Client) bool {
	if s.dane != nil {
		return *s.dane
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ok, err := mtastsresolver.ValidatesDNSSEC(ctx, c)
	if s.logger != nil {
		s.logger.Info("DANE detection", "enabled", ok && err == nil, "resolver_validates_dnssec", ok, "error", err)
	}
	return ok && err == nil
}

// resolverSetup is the resolver setup that cfg describes.
func (c *daemonConfig) resolverSetup(logger *slog.Logger, observer mtastsresolver.Observer) resolverSetup {
	return resolverSetup{
		net:      netFlags{resolver: c.Resolver, caFile: c.CAFile, timeout: c.Timeout},
		cacheURL: c.Cache,
		zones:    c.resolverZones(),
		dane:     c.DANE,
		recheck:  c.RecheckInterval,
		logger:   logger,
		observer: observer,
	}
}

// override applies to c the network flags that were given.
func (f *netFlags) override(c *daemonConfig, set func(string) bool) {
	if set("resolver") {
		c.Resolver = f.resolver
	}
	if set("ca-file") {
		c.CAFile = f.caFile
	}
	if set("timeout") {
		c.Timeout = f.timeout
	}
}

// resolverZones converts the configured zones to the resolver's options:
// every zone, with the default zone's value where it sets none, so that
// the resolver picks the same zone as daemonConfig.zone.
func (c *daemonConfig) resolverZones() map[string]mtastsresolver.ZoneOptions {
	zones := map[string]mtastsresolver.ZoneOptions{"": {DNSFailure: mtastsresolver.Kind(c.Zone.OnDNSFailure)}}
	for name, z := range c.Zones {
		zones[name] = mtastsresolver.ZoneOptions{DNSFailure: mtastsresolver.Kind(z.over(c.Zone).OnDNSFailure)}
	}
	return zones
}
