// Package resolver decides, for a sending MTA, what MTA-STS (RFC 8461)
// asks of mail to a policy domain: deliver only over validated TLS to matching
// MX hosts (enforce), deliver and report (testing), act as if there were
// no policy (none, no-policy), or defer because it cannot be known now
// (tempfail). It is the engine behind "mtasts daemon" and "mtasts query".
//
// A [Resolver] applies the sender's rules of RFC 8461 on top of package
// sts (TXT lookup, policy fetch) and package cache:
//
//   - §3.3: a policy is fetched only over HTTPS from the policy host; a
//     failed fetch with nothing cached means no policy, and is not tried
//     again for the same id for at least 5 minutes.
//   - §5.1: a policy is cached for its max_age and answered from the
//     cache; its id is compared with the TXT record (at most once per
//     RecheckInterval, so that not every message costs a DNS query), and a
//     new id causes a fetch. A failed fetch never replaces an unexpired
//     cached policy, and a missing TXT record alone never erases one.
//   - §10.2: cached policies are fetched again before they expire, about
//     daily, even when the id has not changed, spread with jitter and a
//     few at a time ([Resolver.Run]); failures are logged and reported to
//     an alert hook unless the cached mode is none.
//   - §3.4: a decision is for one policy domain, never a parent's policy;
//     the caller maps next hops to policy domains (enforce.ParseNextHop:
//     a smart host's own name, nothing for address literals).
//   - §2: optionally, a next hop whose MX hosts have DNSSEC-authenticated
//     TLSA records is left to DANE (RFC 7672), which MTA-STS must not
//     override.
//
// One rule goes beyond the RFC's text, from the known failures of existing
// resolvers: a temporary DNS failure is not the absence of a record, so
// with nothing cached it gives Tempfail (unless Config.DNSFailure says
// otherwise for the domain), never a silent downgrade to opportunistic
// TLS. Concurrent decisions for one domain share one DNS lookup and one
// fetch, and "no record" and failed fetches are cached briefly. At most
// MaxLookupsInFlight lookups run at once: beyond them, a new domain is
// Tempfail at once (SourceOverload), so that a flood of new domains defers
// mail rather than exhausting the process, while cached policies are still
// answered.
//
// Beyond the RFC, for operators: overrides of a domain's policy kept in
// the cache with an expiry (SourceOverride), and a proactive refresh
// limited to the domains looked up recently (Config.RefreshUsedWithin,
// Config.DropUnusedAfter).
//
// Example:
//
//	c, err := cache.Open(ctx, "sqlite:///var/lib/mtasts/cache.db", cache.Options{})
//	...
//	r, err := resolver.New(resolver.Config{DNS: dnsClient, Cache: c, Logger: logger})
//	...
//	go r.Run(ctx) // proactive refresh
//	d, err := r.Decide(ctx, "example.com")
//	switch d.Kind {
//	case resolver.Enforce:
//		// require TLS with a certificate valid for an MX host that
//		// matches one of d.MX
//	case resolver.Tempfail:
//		// defer the mail
//	}
package resolver
