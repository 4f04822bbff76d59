package enforce

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
)

// ErrNoUsableMX means an MTA-STS policy to be enforced has no mx pattern
// that Postfix can be given: none at all, or only IP addresses, which can
// never match an MX host name (RFC 8461 §4.1, RFC 5321 §5.1).
var ErrNoUsableMX = errors.New("no usable mx pattern")

// ErrNoCoveredMX means that none of the MX hosts a domain publishes is
// covered by the mx patterns of its enforced policy (RFC 8461 §4.1), so
// that no MX host may be used (RFC 8461 §5).
var ErrNoCoveredMX = errors.New("no MX host covered by the policy")

// ReplyOptions are the settings that shape a TLS policy reply, derived
// from the Postfix version served and the zone (see Config). A new field
// must be packed by shapeOf too, which keys the replies remembered.
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
	// policy_domain, policy_string and mx_host_pattern, and policy_failure
	// for a policy that could not be had. Older Postfix versions reject
	// them.
	TLSRPT bool
	// MTAMatchesMX says that the MTA itself connects only to MX hosts
	// whose names the policy covers: Postfix 3.10.5 and later given the
	// mx_host_pattern attributes (smtp_tls_enforce_sts_mx_patterns =
	// yes; it needs TLSRPT), Exim through the uncovered host list of
	// EximAnswer. match= then holds the patterns. Without it, match=
	// lists the exact names of the MX hosts that the policy covers, since
	// Postfix matches match= names against the certificate only.
	MTAMatchesMX bool
}

// SecurePolicy returns the Postfix TLS policy that enforces an MTA-STS
// policy of domain whose mx patterns are patterns (in policy order), for
// mail to the MX hosts the domain publishes now, hosts (in preference
// order):
//
//	secure match=mx1.example.com:mx2.example.com servername=hostname
//
// "secure" makes Postfix require STARTTLS and a certificate that chains to
// a trusted root and carries one of the match names (RFC 8461 §4.2).
// Postfix compares match names with the certificate only, never with the
// name of the MX host it connects to, and reads ".example.com" as any
// name below example.com. So match= lists the hosts covered by the
// patterns (RFC 8461 §4.1: equal to a pattern, or one label more than a
// "*." pattern's domain), exact: an MX host two labels below a wildcard,
// or one the policy does not name, fails the certificate check unless its
// certificate names a covered host. If no host is covered the error wraps
// ErrNoCoveredMX: no MX host may be used (RFC 8461 §5), which the caller
// answers with TEMP.
//
// With o.MTAMatchesMX the MTA checks the MX host names itself (Postfix
// 3.10.5 against the mx_host_pattern attributes, replacing the match list
// with the MX host name); hosts are then not needed, and match= holds the
// patterns, "*.example.com" written as ".example.com", as older plugins
// did.
//
// Patterns lose a trailing dot and duplicates and are lower-cased.
// Patterns that are IP addresses are left out and returned in dropped:
// they can never match an MX host name (RFC 8461 §4.1), and Postfix would
// take them for certificate names. If no pattern is left the error wraps
// ErrNoUsableMX, answered with TEMP as well, and never with an empty match
// list.
//
// With o.TLSRPT, the TLSRPT attributes follow (see ReportPolicy).
// servername=hostname sends the MX host name as SNI (Postfix 3.4 and
// later).
func SecurePolicy(domain string, patterns, hosts []string, policyText string, o ReplyOptions) (_ string, dropped []string, err error) {
	kept, dropped := usablePatterns(patterns)
	if len(kept) == 0 {
		return "", dropped, fmt.Errorf("%w: the policy of %s is enforced but lists no MX host name Postfix can match (RFC 8461 §4.1)", ErrNoUsableMX, domain)
	}
	var match []string
	if o.MTAMatchesMX {
		for _, p := range kept {
			match = append(match, strings.TrimPrefix(p, "*"))
		}
	} else {
		match = coveredHosts(kept, hosts)
		if len(match) == 0 {
			return "", dropped, fmt.Errorf("%w: none of the MX hosts of %s (%s) matches its policy's mx patterns (%s) (RFC 8461 §4.1)",
				ErrNoCoveredMX, domain, strings.Join(hosts, ", "), strings.Join(kept, ", "))
		}
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

// usablePatterns returns the mx patterns that can go into a reply (lower
// case, no trailing dot, no duplicates, in order) and describes those
// left out.
func usablePatterns(patterns []string) (kept, dropped []string) {
	for _, p := range patterns {
		name := strings.ToLower(strings.TrimSuffix(p, "."))
		if reason := unusablePattern(name); reason != "" {
			dropped = append(dropped, fmt.Sprintf("%q (%s)", p, reason))
			continue
		}
		if !slices.Contains(kept, name) {
			kept = append(kept, name)
		}
	}
	return kept, dropped
}

// coveredHosts returns the hosts that match one of the usable patterns
// (RFC 8461 §4.1), in order, without the names Postfix's policy syntax
// would read differently.
func coveredHosts(patterns, hosts []string) []string {
	var out []string
	for _, h := range hosts {
		if unusablePattern(h) == "" && !slices.Contains(out, h) &&
			slices.ContainsFunc(patterns, func(p string) bool { return sts.MatchPattern(p, h) }) {
			out = append(out, h)
		}
	}
	return out
}

// ReportPolicy returns the Postfix 3.10 policy for a domain whose MTA-STS
// policy is in mode testing: deliver with opportunistic TLS, as RFC 8461
// §5 asks, and report the sessions under the policy with TLSRPT (RFC
// 8460):
//
//	may policy_type=sts policy_domain=example.com { policy_string = version: STSv1 } … mx_host_pattern=mx.example.com
//
// Postfix rejects match= at level may, and checks no MX host names
// against mx_host_pattern without it, so mail goes to every MX host.
func ReportPolicy(domain string, patterns []string, policyText string) string {
	kept, _ := usablePatterns(patterns)
	var b strings.Builder
	b.WriteString("may")
	writeTLSRPT(&b, domain, kept, policyText)
	return b.String()
}

// FailurePolicy returns the Postfix 3.10 policy for a domain whose
// MTA-STS policy could not be had (RFC 8461 §3.3: with nothing cached,
// mail goes as if there were no policy), so that Postfix reports the
// failure with TLSRPT (RFC 8460 §4.3.2.3):
//
//	may policy_type=sts policy_domain=example.com policy_failure=sts-policy-fetch-error
//
// failure is sts-policy-fetch-error, sts-policy-invalid or
// sts-webpki-invalid.
func FailurePolicy(domain string, failure tlsrpt.ResultType) string {
	return "may policy_type=sts policy_domain=" + domain + " policy_failure=" + string(failure)
}

// writeTLSRPT appends the Postfix 3.10 TLSRPT attributes of an MTA-STS
// policy (Postfix TLSRPT_README, "MTA-STS Support via smtp_tls_policy_maps"):
// policy_type and policy_domain, one braced policy_string per non-empty
// line of the policy (a line holding a brace, which the attribute syntax
// cannot carry, is left out), one mx_host_pattern per usable pattern.
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
