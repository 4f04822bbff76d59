package sts

import (
	"fmt"
	"net/netip"
	"strings"
)

// MatchPattern reports whether the MX host name host matches the policy's
// mx pattern (RFC 8461 §4.1). The comparison ignores ASCII case and one
// trailing dot on either side. A pattern is either a host name, matched
// exactly, or "*." followed by a domain, which matches host names made of
// exactly one more (left-most) label and that domain: "*.example.com"
// matches "mx.example.com" but neither "example.com" nor
// "a.b.example.com". There is no suffix matching. Names with an empty label
// and hosts containing "*" never match, nor do patterns with "*" anywhere
// but as the whole first label.
//
// Internationalized names must be compared as A-labels: normalize both sides
// with NormalizeDomain first if they may hold U-labels.
func MatchPattern(pattern, host string) bool {
	pattern = asciiLower(strings.TrimSuffix(pattern, "."))
	host = asciiLower(strings.TrimSuffix(host, "."))
	if !validMatchName(host) || strings.Contains(host, "*") {
		return false
	}
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		if !validMatchName(rest) || strings.Contains(rest, "*") {
			return false
		}
		first, hostRest, ok := strings.Cut(host, ".")
		return ok && first != "" && hostRest == rest
	}
	if strings.Contains(pattern, "*") {
		return false
	}
	return pattern == host
}

// validMatchName reports whether name is non-empty and has no empty label.
func validMatchName(name string) bool {
	return name != "" && !strings.HasPrefix(name, ".") && !strings.HasSuffix(name, ".") && !strings.Contains(name, "..")
}

// Match reports whether host matches any of the policy's mx patterns (RFC
// 8461 §4.1); see MatchPattern. A policy with mode none has no say over MX
// hosts, but Match still compares the patterns it lists.
func (p *Policy) Match(host string) bool {
	for _, pat := range p.MX {
		if MatchPattern(pat, host) {
			return true
		}
	}
	return false
}

// checkPattern checks an mx value against RFC 8461 §3.2:
//
//	sts-policy-mx-value = ["*."] Domain
//
// where Domain is that of RFC 5321 (labels of letters, digits and inner
// hyphens, no trailing dot) within the DNS length limits. Internationalized
// names must be written as A-labels. A trailing dot is reported through
// trailingDot instead of as an error (see ParsePolicy). It returns a reason,
// or "".
func checkPattern(p string) (reason string, trailingDot bool) {
	if !isASCII(p) {
		if a, err := NormalizeDomain(strings.TrimPrefix(p, "*.")); err == nil {
			if strings.HasPrefix(p, "*.") {
				a = "*." + a
			}
			return fmt.Sprintf("is not ASCII; write internationalized names as A-labels (%q)", a), false
		}
		return "is not ASCII; write internationalized names as A-labels (\"xn--…\")", false
	}
	domain, wildcard := strings.CutPrefix(p, "*.")
	if d, ok := strings.CutSuffix(domain, "."); ok && d != "" {
		domain, trailingDot = d, true
	}
	switch {
	case domain == "" && wildcard:
		return `has no domain after "*."`, false
	case strings.Contains(domain, "*"):
		return `may use "*" only as the whole left-most label "*."`, false
	case len(domain) > maxDomainLen:
		return fmt.Sprintf("is longer than %d octets (RFC 1035 §2.3.4)", maxDomainLen), false
	}
	for _, l := range strings.Split(domain, ".") {
		if r := checkHostLabel(l); r != "" {
			if l == "" {
				return "has an empty label", false
			}
			return fmt.Sprintf("label %q %s", l, r), false
		}
	}
	return "", trailingDot
}

// isIPPattern reports whether an mx pattern is an IP address. "192.0.2.1"
// is a valid Domain by the ABNF, but MX records name hosts, never addresses
// (RFC 5321 §5.1), so such a pattern can never match.
func isIPPattern(p string) bool {
	_, err := netip.ParseAddr(strings.TrimSuffix(p, "."))
	return err == nil
}
