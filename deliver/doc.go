// Package deliver sends mail directly to a domain's MX hosts the way an
// MTA-STS aware sending MTA must (RFC 8461 §5, §8.4), for Go programs that
// have no MTA of their own.
//
// Sender.Send asks a resolver.Resolver what the recipient domain's policy
// requires, looks up its MX hosts (RFC 5321 §5.1: a domain without MX
// records is its own implicit MX; a null MX, RFC 7505, accepts no mail) and
// walks them in preference order, hosts of equal preference in random
// order (RFC 5321 §5.1), moving on after any temporary failure:
//
//   - enforce: only MX hosts matching one of the policy's mx patterns (RFC
//     8461 §4.1) are tried; each must offer STARTTLS (RFC 3207) and present,
//     over TLS 1.2 or newer (§7.2), a certificate chain trusted by
//     Sender.RootCAs with a DNS-ID for the MX host name (§4.2). An MX host
//     that fails is treated as unreachable and the next one is tried; when
//     none is left the failure is always temporary (§5: mail is never
//     bounced before the policy is checked again).
//   - testing: every MX host is tried as without a policy, and TLS failures
//     (certificate, TLS version, missing STARTTLS) are recorded but do not
//     stop delivery (§5).
//   - none, no-policy: opportunistic STARTTLS (TLS 1.0 or newer), no
//     certificate checks. A handshake that fails outright leaves nothing
//     to talk over; the next MX host is tried, without a plaintext retry,
//     as Postfix does.
//   - tempfail: nothing is sent; the error is temporary.
//   - dane: nothing is sent (ErrDANE, temporary): DANE (RFC 7672) is not
//     implemented here, and MTA-STS must not override it (§2).
//
// A Sender with Opportunistic set asks for no policy and sends as under
// none, for mail with TLS-Required: No (RFC 8689 §5) such as TLS reports
// (RFC 8460 §5.3), which must reach a domain even when its TLS is broken.
//
// Result lists one Attempt per MX host with its Outcome and, under enforce
// and testing, the RFC 8460 §4.3 result type of its failure, so that a
// TLS-RPT sender can count sessions per policy domain. It also says which
// recipients the message was delivered to and why the others were
// refused (RFC 5321 §3.3).
//
// Errors returned by Send wrap ErrTemporary (queue and retry later) or
// ErrPermanent (bounce); a rejection by the server is also a *ReplyError
// with its SMTP reply. Besides a domain that does not exist or accepts no
// mail, only a 5yz reply to MAIL, RCPT or DATA is permanent; an MX host
// that fails otherwise (no connection, a timeout, a
// 4yz reply, a 5yz greeting) is passed over for the next one.
package deliver
