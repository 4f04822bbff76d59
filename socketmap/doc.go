// Package socketmap implements Postfix's socketmap lookup protocol
// (socketmap_table(5)), through which mtasts answers Postfix's TLS policy
// lookups (smtp_tls_policy_maps): a Server over a Handler, the netstring
// framing, and a small Client.
//
// # Protocol
//
// A client keeps a connection open and sends requests on it; the server
// answers each with one reply, in order. Every request and every reply is a
// netstring (https://cr.yp.to/proto/netstrings.txt): the payload length in
// decimal, ':', the payload, ','. So "sts example.com" travels as
//
//	15:sts example.com,
//
// A request payload is "<map> <key>": the map name from the Postfix
// configuration, one space, and the key (for TLS policy lookups a next-hop
// domain or "[host]:port"). A reply payload is one of
//
//	OK <data>         the key was found; data is the result
//	NOTFOUND          the key was not found (sent with a trailing space)
//	TEMP <reason>     temporary failure; Postfix defers the mail
//	TIMEOUT <reason>  the same, for a timeout
//	PERM <reason>     permanent failure
//
// Postfix accepts replies of at most 100 000 bytes (socketmap_max_reply_size
// from Postfix 3.10), sends one request at a time per connection, closes a
// connection after about 10 s idle, and reconnects once when it finds one
// closed. The Server also accepts pipelined requests: it looks them up
// concurrently and still answers in order.
//
// # Choices
//
// Netstrings are read strictly: no sign, no spaces, no leading zeros ("0:,"
// is the empty string; "01:x," is refused, as djb's definition says), at
// most nine length digits, and the length limit is checked before the
// payload is read. An OK reply too long for Postfix is sent as TEMP, never
// cut, since a cut TLS policy is a different policy; long reasons are cut.
// See Server for how bad input is answered. The connections are bounded
// (Server.MaxConnections, by default from the limit on open files):
// under pressure, idle connections are closed, longest idle first, and
// beyond the limit new ones are closed at once rather than left waiting.
//
// # Postfix configuration
//
// With the daemon listening on 127.0.0.1:8461 and serving the map "sts":
//
//	smtp_tls_policy_maps = socketmap:inet:127.0.0.1:8461:sts
//
// or on a unix socket:
//
//	smtp_tls_policy_maps = socketmap:unix:/run/mtasts/socketmap.sock:sts
//
// The smtp(8) client connects when it first looks up, after it has entered
// its chroot if master.cf runs it chrooted; the socket path must then be
// valid inside the chroot (/var/spool/postfix). TCP avoids the question.
//
// Test it with "postmap -q example.com socketmap:inet:127.0.0.1:8461:sts".
package socketmap
