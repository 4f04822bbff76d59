// Package deliver sends mail directly to a domain's MX hosts the way an
// MTA-STS aware sending MTA must (RFC 8461 §5, §8.4), for Go programs that
// have no MTA of their own.
//
// Sender.Send asks a resolver.Resolver what the recipient domain's policy
// requires, looks up its MX hosts (RFC 5321 §5.1: a domain without MX
// records is its own implicit MX; a null MX, RFC 7505, accepts no mail) and
// walks them in preference order:
//
//   - enforce: only MX hosts matching one of the policy's mx patterns (RFC
//     8461 §4.1) are tried; each must offer STARTTLS (RFC 3207) and present,
//     over TLS 1.2 or newer (§7.2), a certificate chain trusted by
//     Sender.RootCAs with a DNS-ID for the MX host name (§4.2). An MX host
//     that fails is treated as unreachable and the next one is tried; when
//     none is left the failure is always temporary (§5: mail is never
//     bounced before the policy is checked again).
//   - testing: every MX host is tried as without a policy, and TLS failures
//     are recorded but do not stop delivery (§5).
//   - none, no-policy: opportunistic STARTTLS, no certificate checks.
//   - tempfail: nothing is sent; the error is temporary.
//
// Result lists one Attempt per MX host with its Outcome and, under enforce
// and testing, the RFC 8460 §4.3 result type of its failure, so that a
// TLS-RPT sender can count sessions per policy domain.
//
// Errors returned by Send wrap ErrTemporary (queue and retry later) or
// ErrPermanent (bounce); a rejection by the server is also a *ReplyError
// with its SMTP reply.
package deliver
