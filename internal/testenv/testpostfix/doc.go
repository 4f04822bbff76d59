// Package testpostfix runs real Postfix against mtasts in tests: postmap(1)
// queries of a socketmap server, and private Postfix instances that
// deliver real mail to the SMTP servers of an internal/testworld.
//
// # Making Postfix find the test world
//
// Postfix resolves MX and A records with the system resolver
// (/etc/resolv.conf, port 53) and delivers to port 25; a testworld serves
// DNS on 127.0.0.1:<random port> and SMTP on 127.1.x.y:<random port>.
// Postfix settings cannot bridge that without changing what is tested:
// smtp_host_lookup=native with a hosts file skips MX lookups, and a
// transport(5) next hop with a port changes the TLS policy lookup key
// ("example.com:2525" instead of "example.com"). So the instance runs in
// a Linux network namespace of its own (Namespace, "ip netns add"):
//
//   - "ip netns exec" bind-mounts /etc/netns/<ns>/resolv.conf, which
//     names 127.0.0.1, over /etc/resolv.conf for the Postfix processes;
//   - the test process opens sockets inside the namespace from an OS
//     thread that has joined it with setns(2): a DNS server on
//     127.0.0.1:53 that answers from the world's zone, and listeners on
//     each MX host's world address at port 25 that relay to the world's
//     SMTP servers (ServeWorld);
//   - the socketmap server is reached the same way (Forward), so main.cf
//     says smtp_tls_policy_maps = socketmap:inet:127.0.0.1:PORT:postfix
//     exactly as in production.
//
// Postfix then looks up "example.com" MX, asks the socketmap for
// "example.com", connects to mx1.example.com:25 and verifies its
// certificate against smtp_tls_CAfile (the world's CA), exactly as it
// would on the internet.
//
// This needs root (namespaces, the Postfix master) and Debian's postfix
// and iproute2 packages. Require skips a test when they are missing, or
// fails it when MTASTS_REQUIRE_SERVICES=1, as CI sets.
package testpostfix
