// Package policyhost publishes MTA-STS policies (RFC 8461) over HTTPS for
// many domains at once: it is the policy host "mta-sts.<domain>" of every
// configured domain.
//
// RFC 8461 §3.3 makes senders fetch
// https://mta-sts.<domain>/.well-known/mta-sts.txt with a certificate valid
// for that name, accept only status 200 without redirects, and take the body
// as a text/plain policy (§3.2). Handler answers exactly that: 200,
// "text/plain; charset=utf-8", the policy text with CRLF line endings and
// "Cache-Control: no-store"; 404 for other paths of a policy host; 421 for a
// host it does not serve; never a redirect. Other parts of the same server
// (the TLS-RPT report endpoint, a dashboard) are added with Mount.
//
// Server runs Handler on real listeners: certificates per domain from files
// (reloaded when they change) or from an ACME CA through certmagic (HTTP-01
// on the plain HTTP listener, TLS-ALPN-01 on the HTTPS one, issued only for
// the configured "mta-sts.<domain>" names); per-IP connection limits and
// timeouts against slow or greedy clients; Prometheus metrics and a
// structured access log; reload of the whole configuration without dropping
// connections.
//
// The policy id of the _mta-sts TXT record (RFC 8461 §3.1) is managed here:
// State gives a domain a new id whenever its rendered policy text changes
// and keeps it in the data directory. With mx "auto" the MX patterns follow
// the domain's live MX records; in mode enforce a new host joins only once
// it validates (Options.ValidateMX) and a host gone from DNS stays for the
// policy's max_age, so that no sender with a cached policy or cached MX
// records is cut off mid-change. Optionally the TXT record is updated by
// RFC 2136 dynamic update signed with TSIG (RFC 8945).
package policyhost
