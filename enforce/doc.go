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
// # Replies
//
//	enforce                 OK secure match=mx1.example.com:.mail.example.com servername=hostname
//	testing                 NOTFOUND  (OK secure ... with StrictTesting)
//	none, no policy         NOTFOUND
//	temporary failure       TEMP <reason>   (Postfix defers the mail and retries)
//	DANE governs (RFC 8461 §2)  OK dane
//
// NOTFOUND lets Postfix go on to its next table or to
// smtp_tls_security_level. The match list keeps the policy's order;
// "*.example.com" is written as Postfix's ".example.com". An enforce
// policy whose mx patterns are all unusable (IP addresses) is answered
// TEMP, never with an empty match list, since no MX host may then be used
// (RFC 8461 §5). ReplyOptions add the TLSRPT attributes of Postfix 3.10
// and leave out servername for Postfix before 3.4.
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
