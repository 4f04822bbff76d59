// Package testexim runs a real Exim against mtasts in tests: a private
// Exim 4 (Debian's exim4-daemon-light) with its own configuration, spool
// and log in one directory, delivering real mail from inside a network
// namespace of package testpostfix, whose DNS on 127.0.0.1:53 and port 25
// of each MX host are those of an internal/testworld.
//
// # Running Exim beside Postfix
//
// Debian's Exim packages conflict with postfix (both provide
// mail-transport-agent), which the other tests need, so Exim is not
// installed: scripts/test.sh unpacks the exim4-daemon-light package with
// dpkg-deb into a cache directory and names the binary in MTASTS_EXIM
// (its libraries, such as libidn12, are installed as ordinary packages).
// Nothing of the package's own setup is needed:
//
//   - Exim reads the configuration named by -C (allowed for root) and
//     keeps its spool and log where that configuration says; exim_path
//     names the unpacked binary for the deliveries Exim starts itself;
//   - the binary looks up its user, Debian-exim, when it starts: where
//     the system has no such user, the namespace's /etc/passwd and
//     /etc/group (files in /etc/netns/<name>, which "ip netns exec"
//     mounts over /etc) add one;
//   - the namespace's /etc/ssl holds only the world's CA as
//     certs/ca-certificates.crt, the trust store of GnuTLS on Debian, so
//     that "tls_verify_certificates = system" trusts the world's
//     certificates, as it trusts public ones on the internet.
//
// This needs root and iproute2, like package testpostfix. Require skips a
// test when Exim or namespaces are missing, or fails it when
// MTASTS_REQUIRE_SERVICES=1, as CI sets.
package testexim
