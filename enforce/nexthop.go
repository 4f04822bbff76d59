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
	// sender never falls back to a parent domain (RFC 8461 §3.4, §4.1).
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
// lookup key:
//
//   - "example.com" and "example.com:port": the domain. A port does not
//     change whose MX hosts Postfix connects to.
//   - "[host]" and "[host]:port": the smart host's name. RFC 8461 §3.4:
//     "When sending mail via a 'smart host' ... compliant senders MUST
//     treat the smart host domain as the Policy Domain".
//   - ".example.com": ErrParentDomain; "[192.0.2.1]", "192.0.2.1":
//     ErrAddressLiteral; anything else that is not a domain: ErrNotDomain.
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
		return fail(ErrParentDomain, "is a parent-domain lookup; MTA-STS never falls back to a parent domain (RFC 8461 §4.1)")
	case len(name) >= 5 && strings.EqualFold(name[:5], "ipv6:"):
		return fail(ErrAddressLiteral, "is an address literal (RFC 8461 §3.4)")
	case name == "" || strings.HasPrefix(name, "/"):
		return fail(ErrNotDomain, "names no domain")
	}
	if isPlainHostname(name) {
		nh.Domain = name
		return nh, nil
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

// isPlainHostname reports whether name is already in the form
// sts.NormalizeDomain returns and needs none of its work: lower-case
// letters, digits and inner hyphens in labels of 1 to 63 octets, no
// label with "--" in its third and fourth places (reserved by IDNA, as in
// "xn--"), at most 253 octets, not all digits and dots (an address). Postfix sends most keys this way, and the
// IDNA code is the most expensive part of answering from the cache.
func isPlainHostname(name string) bool {
	if len(name) == 0 || len(name) > 253 {
		return false
	}
	letters := false
	start := 0 // of the current label
	for i := 0; i <= len(name); i++ {
		if i < len(name) && name[i] != '.' {
			switch c := name[i]; {
			case 'a' <= c && c <= 'z', c == '-':
				letters = true
			case '0' <= c && c <= '9':
			default:
				return false
			}
			continue
		}
		label := name[start:i]
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' ||
			len(label) >= 4 && label[2:4] == "--" {
			return false
		}
		start = i + 1
	}
	return letters
}

// truncate shortens s to at most n bytes for log messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
