// Package sts implements the objects and discovery steps of SMTP MTA Strict
// Transport Security (MTA-STS, RFC 8461).
//
// A domain that publishes MTA-STS has two things:
//
//   - a DNS TXT record at _mta-sts.<domain> such as "v=STSv1; id=20240101;"
//     (RFC 8461 §3.1), whose id changes whenever the policy changes; and
//   - a policy file served over HTTPS at
//     https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 §3.2, §3.3)
//     listing a mode (enforce, testing or none), a max_age in seconds and the
//     MX host name patterns that senders may deliver to.
//
// A sender looks up the TXT record, fetches the policy (only over HTTPS with
// a certificate valid for mta-sts.<domain>, without following redirects),
// caches it for max_age, and before delivering checks that each MX host name
// matches one of the policy's patterns (RFC 8461 §4.1) and offers STARTTLS
// with a valid certificate (§4.2).
//
// The package keeps a pure core and clearly marked I/O:
//
//   - [ParseRecord], [SelectRecord], [ParsePolicy], [ParsePolicyLint],
//     [MatchPattern], [Policy.Match] and the String methods do no I/O;
//   - [LookupRecord] does DNS only, [FetchPolicy] does HTTPS only, and
//     [Get] does both.
//
// Caching, refresh and enforcement live in other packages built on top.
//
// Errors are grouped by stage: [ErrNoRecord], [ErrMultipleRecords],
// [ErrRecordSyntax], [ErrDNS], [ErrPolicyFetch] and [ErrPolicySyntax], with
// the typed errors [*RecordSyntaxError], [*SyntaxError] and [*FetchError]
// for details. A temporary DNS failure ([ErrDNS]) is never reported as the
// absence of a record ([ErrNoRecord]): treating one as the other would let
// an attacker who can block DNS downgrade delivery.
package sts
