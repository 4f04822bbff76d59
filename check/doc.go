// Package check audits a mail domain's MTA-STS (RFC 8461) and TLS-RPT
// (RFC 8460) deployment the way a sending MTA would see it, and says what
// is wrong and how to fix it.
//
// [Check] looks at everything a sender depends on and returns a [Result]
// made of [Finding] values and the facts observed:
//
//   - the _mta-sts TXT record (RFC 8461 §3.1), including records published
//     at the wrong name and temporary DNS failures, which are never taken
//     for a missing record;
//   - the policy host https://mta-sts.<domain> (§3.3): its addresses, TCP and
//     TLS, the certificate (trusted, valid for the name, not expired,
//     expiring within 14 or 30 days), HTTP status, redirects (refused even
//     to a valid target), media type, size and fetch time;
//   - the policy itself (§3.2), every syntax rule with its line, the mode
//     and max_age;
//   - the MX records: null MX (RFC 7505), hosts without addresses, and
//     whether each MX host is covered by a policy pattern (§4.1);
//   - each address of each MX host on port 25: EHLO, STARTTLS, TLS 1.2 or
//     newer (§7.2), and the certificate judged by §4.2 (chain, name per
//     RFC 6125, expiry), with the TLS version and cipher suite observed;
//   - DANE TLSA records of the MX hosts (RFC 7672), whether the answer was
//     DNSSEC-authenticated, and whether they match the served certificate;
//   - the _smtp._tls TXT record (RFC 8460 §3);
//   - and consistency: a policy in enforce mode while an MX host fails
//     validation means senders would not deliver to it (§5).
//
// Every finding has a stable kebab-case [Code]; the codes, their severity,
// meaning, RFC section and fix are defined in one catalogue ([Catalogue]),
// from which docs/findings.md is generated.
//
// A [Checker] holds what several checks share: the DNS client, the trusted
// roots, a limit on concurrent connections per target IP address (so that
// a bulk scan never hammers one MX), and a cache of MX host results (many
// domains share their MX hosts). [Checker.CheckAll] checks a stream of
// domains concurrently and hands the results over in input order or as
// they finish, keeping memory flat; [Summary] aggregates them into the
// table a measurement would publish. [Result.WriteText] and the JSON form
// of [Result] render a result.
//
// Everything that touches the network is injectable through [Options]:
// the DNS server, the dialer, the trusted roots and the clock, which is
// used both for certificate validity and for timings, so that output is
// reproducible under a fixed clock.
package check
