package sts

import (
	"fmt"
	"strconv"
	"strings"
)

// Warning is something in a policy that is valid but probably a mistake, or
// valid only thanks to a tolerated deviation (see ParsePolicyLint).
// Warnings never make a policy invalid.
type Warning struct {
	// Line is the 1-based line number, or 0 for the policy as a whole.
	Line int
	// Key is the key concerned, if any.
	Key string
	// Code is a stable kebab-case identifier, one of the Warn constants.
	Code string
	// Message explains the warning, for a person.
	Message string
	// Section names the rule or advice, such as "RFC 8461 §3.2".
	Section string
}

// String formats the warning as, for example,
// `policy line 4: max_age 3600 is less than one day … [max-age-short] (RFC 8461 §3.2)`.
func (w Warning) String() string {
	where := "policy"
	if w.Line > 0 {
		where += " line " + strconv.Itoa(w.Line)
	}
	return fmt.Sprintf("%s: %s [%s] (%s)", where, w.Message, w.Code, w.Section)
}

// Warning codes. They are stable: tools may match on them.
const (
	// WarnMaxAgeShort: max_age is below one day, or below one week in
	// enforce mode; RFC 8461 §3.2 recommends weeks or more, and a short
	// max_age gives an attacker who blocks refreshes an early way out.
	// Not reported for mode none.
	WarnMaxAgeShort = "max-age-short"
	// WarnModeTesting: mode testing only reports failures (RFC 8461 §5).
	WarnModeTesting = "mode-testing"
	// WarnMixedLineEndings: some lines end with CRLF and some with LF.
	WarnMixedLineEndings = "mixed-line-endings"
	// WarnDuplicateKey: a key other than mx appears again; the first wins.
	WarnDuplicateKey = "duplicate-key"
	// WarnMXIPAddress: an mx pattern is an IP address, which is valid by
	// the ABNF but can never match an MX host name.
	WarnMXIPAddress = "mx-ip-address"
	// WarnMXTrailingDot: an mx pattern ends with a dot (tolerated).
	WarnMXTrailingDot = "mx-trailing-dot"
	// WarnPolicyLarge: the policy is over 4 KiB; senders cap policies
	// (RFC 8461 §3.3 suggests 64 KiB) and real ones are far smaller.
	WarnPolicyLarge = "policy-large"
	// WarnModeNoneMX: mode none with mx lines, which senders ignore.
	WarnModeNoneMX = "mode-none-mx"
	// WarnUnknownKey: a key RFC 8461 does not define; it is ignored, and
	// may be a typo of a known key.
	WarnUnknownKey = "unknown-key"
	// WarnBlankLine: a blank line (tolerated; the ABNF has none).
	WarnBlankLine = "blank-line"
	// WarnVersionNotFirst: the first line is not version.
	WarnVersionNotFirst = "version-not-first"
)

// Thresholds of the lint checks.
const (
	lintLargePolicy  = 4 << 10
	lintMinMaxAge    = 24 * 60 * 60     // one day
	lintMinEnforceMA = 7 * 24 * 60 * 60 // one week
)

// lintPolicy adds the warnings that need the whole, valid policy.
func (ps *policyParser) lintPolicy(p *Policy, size int) {
	ageLine := ps.firstLine[keyMaxAge]
	switch {
	case p.Mode == ModeNone:
	case p.MaxAge < lintMinMaxAge:
		ps.warn(ageLine, keyMaxAge, WarnMaxAgeShort, secPolicy,
			"max_age %d is less than one day; senders re-fetch often and a short-lived policy is easier to evade; use weeks or more", p.MaxAge)
	case p.Mode == ModeEnforce && p.MaxAge < lintMinEnforceMA:
		ps.warn(ageLine, keyMaxAge, WarnMaxAgeShort, secPolicy,
			"max_age %d is less than one week in enforce mode; use weeks or more (e.g. 604800 or 1209600)", p.MaxAge)
	}
	switch p.Mode {
	case ModeTesting:
		ps.warn(ps.firstLine[keyMode], keyMode, WarnModeTesting, "RFC 8461 §5",
			"mode testing: senders deliver even when validation fails and only report it (TLS-RPT); switch to enforce once reports are clean")
	case ModeNone:
		if len(p.MX) > 0 {
			ps.warn(ps.firstLine[keyMX], keyMX, WarnModeNoneMX, "RFC 8461 §5",
				"mode none with mx lines: senders treat the domain as having no policy and ignore them (fine while retiring a policy)")
		}
	}
	if size > lintLargePolicy {
		ps.warn(0, "", WarnPolicyLarge, secFetch,
			"policy is %d bytes, over 4 KiB; senders cap the size they fetch (64 KiB suggested), keep it small", size)
	}
}

// warnUnknownKey reports an extension key, suggesting a known key it may be
// a typo of.
func (ps *policyParser) warnUnknownKey(n int, key string) {
	if s := suggestKey(key); s != "" {
		ps.warn(n, key, WarnUnknownKey, secPolicy, "unknown key %q is ignored; did you mean %q?", key, s)
		return
	}
	ps.warn(n, key, WarnUnknownKey, secPolicy, "unknown key %q is ignored (an extension)", key)
}

// suggestKey returns the known key that key probably means, or "": the same
// letters ignoring case and "_", "-", "." ("Max-Age"), or one edit away
// ("verison", "mdoe") for the longer keys.
func suggestKey(key string) string {
	squashed := keySquasher.Replace(asciiLower(key))
	for _, k := range []string{keyVersion, keyMode, keyMaxAge, keyMX} {
		if squashed == keySquasher.Replace(k) {
			return k
		}
		if len(k) >= 4 && editDistance(asciiLower(key), k) <= 1 {
			return k
		}
	}
	return ""
}

// keySquasher removes the separators that typos of key names vary in.
var keySquasher = strings.NewReplacer("_", "", "-", "", ".", "")

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and adjacent transpositions.
func editDistance(a, b string) int {
	if len(a) > 2*maxNameLen || len(b) > 2*maxNameLen {
		return len(a) + len(b)
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
