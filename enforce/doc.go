// Package enforce is the MTA policy service behind "mtasts daemon": it
// answers Postfix's TLS policy lookups (smtp_tls_policy_maps, postconf(5))
// with MTA-STS (RFC 8461) over Postfix's socketmap protocol. It turns a
// lookup key into a policy domain (ParseNextHop), asks a resolver for its
// decision and writes the decision in Postfix's TLS policy syntax as a
// socketmap reply (Reply).
//
// # The service
//
// Config is the [daemon] section of mtasts.toml (Load reads it); Run
// serves it until its context ends: socketmap listeners on TCP or UNIX
// sockets, a resolver (package resolver) over the policy cache (package
// cache) with proactive refresh, Prometheus metrics, SIGHUP reloading
// what can change while running, and a shutdown that answers the lookups
// in flight. A lookup that takes longer than query_timeout is answered
// TEMP before Postfix gives up on its own. Query answers one key the same
// way, for "mtasts query".
//
// # Operators
//
// An Operator works on the cache of a configuration as the service reads
// it, for "mtasts override" and "mtasts cache": overrides with an expiry,
// which every service sharing the cache applies within
// resolver.DefaultOverrideTTL (see resolver.SourceOverride), and the
// cached policies with the answer the service gives from each.
//
// # Replies
//
//	enforce                 OK secure match=mx1.example.com:mx2.example.com servername=hostname
//	testing                 NOTFOUND  (OK secure ... with StrictTesting)
//	none, no policy         NOTFOUND
//	temporary failure       TEMP <reason>   (Postfix defers the mail and retries)
//	DANE governs (RFC 8461 §2)  OK dane
//
// NOTFOUND lets Postfix go on to its next table or to
// smtp_tls_security_level. Postfix compares match= names with the
// certificate only, never with the MX host name, so for Postfix before
// 3.10.5 match= lists the exact names of the MX hosts the domain
// publishes that its policy covers (RFC 8461 §4.1), in preference order,
// looked up through the resolver (resolver.Resolver.MX) and remembered
// for their TTL. An enforce policy that covers none of them, whose MX
// hosts cannot be looked up, or whose mx patterns are all unusable (IP
// addresses), is answered TEMP, never with an empty match list, since no
// MX host may then be used (RFC 8461 §5). Config.PostfixVersion shapes
// the rest (ReplyOptions): servername from 3.4; the TLSRPT attributes
// from 3.10, with testing policies answered "may" with them and failed
// fetches with policy_failure (ReportPolicy, FailurePolicy); from 3.10.5
// Postfix checks MX host names against mx_host_pattern itself and match=
// holds the patterns. docs/postfix.md has the whole table.
//
// # Lookup keys
//
// Postfix looks up the next hop as written: "example.com",
// "example.com:port", "[host]" or "[host]:port", and, when nothing is
// found for a domain, its parent domains ".example.com", ".com". Only the
// first two kinds name a recipient domain's MX hosts; a bracketed host is
// a smart host whose own name is the policy domain (RFC 8461 §3.4);
// parent domains and address literals get NOTFOUND without any lookup.
//
// # Exim
//
// Exim asks through its ${readsocket} expansion item instead, on the
// exim_listen sockets: one lookup key per connection, answered with one
// line of key=value fields that Exim's routers and transports act on
// (EximAnswer; the Exim configuration is in docs/exim.md).
//
// # Why not in package socketmap
//
// Package socketmap is Postfix's generic lookup protocol and serves any
// map. The TLS policy grammar, the next-hop syntax and the MTA-STS
// semantics are another concern, with other dependencies (sts, resolver),
// so they live here, on top of socketmap.
package enforce
