package enforce

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrNoUsableMX means an MTA-STS policy to be enforced has no mx pattern
// that Postfix can be given: none at all, or only IP addresses, which can
// never match an MX host name (RFC 8461 §4.1, RFC 5321 §5.1).
var ErrNoUsableMX = errors.New("no usable mx pattern")

// ReplyOptions are the settings that shape a TLS policy reply.
type ReplyOptions struct {
	// StrictTesting applies policies in mode testing as if they were in
	// mode enforce, as some operators want for domains slow to move to
	// enforce. It is stricter than RFC 8461 §5 asks.
	StrictTesting bool
	// NoServername leaves "servername=hostname" out, for Postfix older
	// than 3.4, which rejects the attribute (and the whole policy). Postfix
	// then sends no SNI, which some MX hosts need to choose their
	// certificate.
	NoServername bool
	// TLSRPT adds the attributes through which Postfix 3.10 and later
	// report MTA-STS results with TLSRPT (RFC 8460): policy_type,
	// policy_domain, policy_string and mx_host_pattern. Older Postfix
	// versions reject them.
	TLSRPT bool
}

// SecurePolicy returns the Postfix TLS policy that enforces an MTA-STS
// policy of domain whose mx patterns are patterns (in policy order):
//
//	secure match=mx1.example.com:.mail.example.com servername=hostname
//
// "secure" makes Postfix require STARTTLS and a certificate that chains to
// a trusted root and carries one of the match names (RFC 8461 §4.2).
// Patterns keep their policy order, lose a trailing dot and duplicates, are
// lower-cased, and "*.example.com" becomes Postfix's ".example.com". Postfix
// accepts a ".example.com" name at any depth below example.com, a little
// wider than RFC 8461 §4.1's one label; with TLSRPT set, Postfix 3.10 is
// also given the exact patterns. servername=hostname sends the MX host name
// as SNI (Postfix 3.4 and later).
//
// Patterns that are IP addresses are left out and returned in dropped:
// they can never match an MX host name (RFC 8461 §4.1), and Postfix would
// take them for certificate names. If no pattern is left the error wraps
// ErrNoUsableMX: an enforced policy that no MX can satisfy means that no
// delivery may happen (RFC 8461 §5), which the caller answers with TEMP so
// that mail waits, and never with an empty match list.
//
// With o.TLSRPT, policyText is the policy file applied; its non-empty
// lines go into policy_string attributes, except a line holding a brace,
// which Postfix's attribute syntax cannot carry.
func SecurePolicy(domain string, patterns []string, policyText string, o ReplyOptions) (_ string, dropped []string, err error) {
	var match, kept []string
	seen := make(map[string]bool, len(patterns))
	for _, p := range patterns {
		name := strings.ToLower(strings.TrimSuffix(p, "."))
		if reason := unusablePattern(name); reason != "" {
			dropped = append(dropped, fmt.Sprintf("%q (%s)", p, reason))
			continue
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		kept = append(kept, name)
		match = append(match, strings.TrimPrefix(name, "*"))
	}
	if len(match) == 0 {
		return "", dropped, fmt.Errorf("%w: the policy of %s is enforced but lists no MX host name Postfix can match (RFC 8461 §4.1)", ErrNoUsableMX, domain)
	}

	var b strings.Builder
	b.WriteString("secure match=")
	b.WriteString(strings.Join(match, ":"))
	if !o.NoServername {
		b.WriteString(" servername=hostname")
	}
	if o.TLSRPT {
		writeTLSRPT(&b, domain, kept, policyText)
	}
	return b.String(), dropped, nil
}

// writeTLSRPT appends the Postfix 3.10 TLSRPT attributes of an MTA-STS
// policy (Postfix TLSRPT_README, "MTA-STS Support via smtp_tls_policy_maps").
func writeTLSRPT(b *strings.Builder, domain string, patterns []string, policyText string) {
	b.WriteString(" policy_type=sts policy_domain=")
	b.WriteString(domain)
	for line := range strings.Lines(policyText) {
		line = strings.TrimSpace(line)
		if line == "" || strings.ContainsAny(line, "{}") {
			continue
		}
		b.WriteString(" { policy_string = ")
		b.WriteString(line)
		b.WriteString(" }")
	}
	for _, p := range patterns {
		b.WriteString(" mx_host_pattern=")
		b.WriteString(p)
	}
}

// unusablePattern says why a lower-cased mx pattern without trailing dot
// cannot go into a match list, or returns "". The policy parser has already
// checked the syntax of RFC 8461 §3.2; this keeps out what the syntax lets
// through (IP addresses) and, defensively, anything that Postfix's policy
// syntax would read differently (separators, braces, a misplaced "*").
func unusablePattern(p string) string {
	host, _ := strings.CutPrefix(p, "*.")
	switch {
	case isAddress(host):
		return "an IP address; MX records name hosts (RFC 8461 §4.1)"
	case host == "" || strings.HasPrefix(host, ".") || strings.Contains(host, ".."):
		return "empty label"
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Sprintf("character %q", c)
		}
	}
	return ""
}

// isAddress reports whether s is an IPv4 or IPv6 address.
func isAddress(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
