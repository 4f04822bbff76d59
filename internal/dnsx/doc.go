// Package dnsx is the DNS client of mtasts: a small stub resolver on top of
// github.com/miekg/dns that keeps apart the answers MTA-STS (RFC 8461) and
// TLS-RPT (RFC 8460) must not confuse.
//
// # How a query is made
//
// Questions go to the name servers of /etc/resolv.conf or to explicit
// addresses. Each query is sent over UDP with EDNS0 (RFC 6891, 1232-byte
// buffer, DO bit clear) and with the AD bit set (RFC 6840 §5.7), which asks a
// validating resolver to report whether the answer is DNSSEC-authenticated;
// [Result.Authenticated] exposes that bit. A truncated UDP answer is asked
// again over TCP. Every exchange has its own timeout ([Config.Timeout]); a
// failed exchange moves on to the next server, and the whole list is tried
// [Config.Attempts] times. Names are always absolute: there is no search list.
// U-labels are converted to A-labels (IDNA 2008, RFC 5891 §5).
//
// CNAMEs are followed as a stub resolver must (RFC 1034 §3.6.2): when the
// server chased the chain itself the answer is taken from its reply,
// otherwise the target is asked for. Chains are limited to [MaxCNAMEs]
// aliases and loops are detected. TXT records made of several strings are
// joined with no separator (RFC 8461 §3.1).
//
// # Error model
//
// A temporary DNS failure must never look like the absence of a record: an
// MTA that took a SERVFAIL for "no MTA-STS policy" would silently downgrade
// to opportunistic TLS. So every lookup failure is a *[net.DNSError] whose
// UnwrapErr is one of the sentinels below, and whose flags say which side of
// that line it falls on:
//
//   - [ErrNXDomain]: the name does not exist (rcode NXDOMAIN, RFC 1035 §4.1.1).
//     IsNotFound is set.
//   - [ErrNoData]: the name exists but has no record of the asked type
//     (RFC 2308 §2.2). IsNotFound is set.
//   - [ErrServerFailure]: no usable answer: SERVFAIL, REFUSED or any other
//     rcode from every server, a lame referral, an unreachable server, a
//     malformed reply, or a CNAME loop ([ErrCNAMELoop]). IsTemporary is set.
//   - [ErrTimeout]: no server answered in time, or the context deadline
//     passed. IsTimeout and IsTemporary are set.
//
// A cancelled context gives a *net.DNSError wrapping [context.Canceled] with
// IsTemporary set. A name that cannot exist in the DNS (empty label, label
// longer than 63 octets, invalid IDN) is reported, as package net does, as
// not found without sending a query: its error wraps [ErrInvalidName], which
// wraps [ErrNXDomain].
//
// Callers test errors with [errors.Is] on the sentinels, or with [IsNotFound]
// and [IsTemporary], which also understand errors from a [net.Resolver]. Code
// that must not import dnsx can test net.DNSError.IsNotFound directly.
//
// A [Client] is safe for concurrent use. Its LookupTXT, LookupMX,
// LookupHost and LookupIPAddr methods have the signatures of [net.Resolver],
// so it can stand wherever an interface of those methods is expected.
package dnsx
