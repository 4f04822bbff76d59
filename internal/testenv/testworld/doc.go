// Package testworld is an in-process fake internet for tests: real servers
// on loopback speaking real protocols, so that MTA-STS (RFC 8461) and
// TLS-RPT (RFC 8460) code is tested end to end over real sockets.
//
// A World holds one authoritative DNS server (miekg/dns, UDP and TCP), one
// private CA, and any number of hosts. Each host gets its own loopback IPv4
// address (from 127.1.0.0/16 upwards, with an A record in the world's DNS)
// and may run an HTTPS server (logical port 443) and an ESMTP server with
// STARTTLS (logical port 25). The servers really listen on <host ip>:0, as
// ports below 1024 need privileges; World.DialContext resolves names
// through the world's DNS and maps logical ports to real ones. Clients under
// test therefore take three options that real users need anyway: the DNS
// server (World.Resolver), the trusted CAs (World.RootCAs or World.CAFile)
// and, for tests only, the dial function.
//
// Every server can be made to misbehave while it runs: DNS answers can be
// SERVFAIL, dropped, delayed, truncated or AD-flagged; HTTPS hosts can
// present expired, self-signed or wrong-name certificates, redirect, stall
// or answer slowly; SMTP servers can lack STARTTLS or offer only some TLS
// versions. Everything stops in t.Cleanup.
//
// For thousands of domains, World.NewFarm serves policy hosts and MX hosts
// from a few shared listeners that pick certificates by SNI and policies
// by Host. For tests on a fixed clock, NewCAValid and CA.Now make every
// certificate's validity follow that clock.
//
// Example:
//
//	w := testworld.New(t)
//	w.DNS.Add("example.com. MX 10 mx1.example.com.")
//	w.PolicyDomain("example.com", "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 86400\n")
//	mx := w.SMTP("mx1.example.com", testworld.SMTPOptions{})
//
//	// The code under test resolves with w.Resolver(), trusts w.RootCAs()
//	// and dials with w.DialContext (w.HTTPClient() does both for HTTPS).
//	...
//	if got := len(mx.Messages()); got != 1 { ... }
//
//	// Break things: an expired certificate on the policy host.
//	w.HTTPSHost("mta-sts.example.com").SetCert(w.CA.Expired(t, "mta-sts.example.com"))
package testworld
