package enforce

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mtasts/mtasts/sts"
)

// Reasons why a lookup key has no policy domain. Match them with errors.Is.
var (
	// ErrParentDomain: the key starts with a dot. Postfix looks up
	// ".example.com", ".com" after "sub.example.com" finds nothing; an
	// MTA-STS policy never applies to subdomains of its domain and a
	// sender never falls back to a parent domain (RFC 8461 §3.4).
	ErrParentDomain = errors.New("parent-domain lookup")
	// ErrAddressLiteral: the next hop is an IP address; address literals
	// have no MTA-STS policy (RFC 8461 §3.4).
	ErrAddressLiteral = errors.New("address literal")
	// ErrNotDomain: the key is no domain name at all (an LMTP socket path,
	// a malformed name).
	ErrNotDomain = errors.New("not a domain name")
)

// NextHop is an smtp_tls_policy_maps lookup key taken apart. Postfix looks
// up the next-hop destination as written in transport(5), relayhost or
// the recipient domain: "example.com", "example.com:2525" (MX lookup, other
// port), "[host]" or "[host]:port" (no MX lookup: a smart host), or a
// UNIX-domain socket path for LMTP.
type NextHop struct {
	// Key is the lookup key as received.
	Key string
	// Domain is the policy domain, normalized (lower case, A-labels, no
	// trailing dot).
	Domain string
	// SmartHost is true for a bracketed next hop: the policy domain is
	// then the smart host's own name (RFC 8461 §3.4).
	SmartHost bool
	// Port is the port or service after the last colon, if any.
	Port string
}

// ParseNextHop returns the MTA-STS policy domain of a Postfix TLS policy
// lookup key. It is the one reading of next hops in this module: the
// resolver is given the domain it returns. RFC 8461 §3.4 ("Policy
// Selection for Smart Hosts and Subdomains") decides each form:
//
//   - "example.com" and "example.com:port": the domain, whose MX hosts
//     Postfix looks up; a port does not change them.
//   - "[host]" and "[host]:port": no MX lookup, Postfix connects to host
//     itself, a smart host or relay. "When sending mail via a 'smart host'
//     ... compliant senders MUST treat the smart host domain as the Policy
//     Domain": the policy domain is host, normalized, with SmartHost set.
//     It is the host's own name, never a parent of it.
//   - "[192.0.2.1]", "[ipv6:2001:db8::1]", "192.0.2.1": "This
//     specification does not provide support for mail domains or smart
//     hosts specified by IP address literals": ErrAddressLiteral.
//   - ".example.com", Postfix's parent-domain lookup after
//     "sub.example.com" found nothing: a policy covers its own domain
//     only, and senders never look for one in a parent zone:
//     ErrParentDomain.
//   - anything else that is not a domain (an LMTP socket path, a malformed
//     name): ErrNotDomain.
//
// Errors wrap one of the three sentinels.
func ParseNextHop(key string) (NextHop, error) {
	nh := NextHop{Key: key}
	fail := func(err error, reason string) (NextHop, error) {
		return nh, fmt.Errorf("%w: %q %s", err, truncate(key, 80), reason)
	}
	name := key
	if rest, ok := strings.CutPrefix(name, "["); ok {
		host, after, ok := strings.Cut(rest, "]")
		if !ok {
			return fail(ErrNotDomain, "has no closing bracket")
		}
		switch {
		case after == "":
		case strings.HasPrefix(after, ":") && len(after) > 1:
			nh.Port = after[1:]
		default:
			return fail(ErrNotDomain, "has text after the closing bracket")
		}
		name, nh.SmartHost = host, true
	} else if i := strings.LastIndexByte(name, ':'); i >= 0 {
		if strings.Count(name, ":") > 1 {
			// A bare IPv6 address; Postfix always brackets them, but
			// no IPv6 address has a policy either way.
			return fail(ErrAddressLiteral, "is an IPv6 address")
		}
		name, nh.Port = name[:i], name[i+1:]
		if nh.Port == "" {
			return fail(ErrNotDomain, "has an empty port")
		}
	}
	switch {
	case strings.HasPrefix(name, "."):
		return fail(ErrParentDomain, "is a parent-domain lookup; MTA-STS never falls back to a parent domain (RFC 8461 §3.4)")
	case len(name) >= 5 && strings.EqualFold(name[:5], "ipv6:"):
		return fail(ErrAddressLiteral, "is an address literal (RFC 8461 §3.4)")
	case name == "" || strings.HasPrefix(name, "/"):
		return fail(ErrNotDomain, "names no domain")
	}
	d, err := sts.NormalizeDomain(name)
	if err != nil {
		if isAddress(name) {
			return fail(ErrAddressLiteral, "is an address literal (RFC 8461 §3.4)")
		}
		return nh, fmt.Errorf("%w: %w", ErrNotDomain, err)
	}
	nh.Domain = d
	return nh, nil
}

// truncate shortens s to at most n bytes for log messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
