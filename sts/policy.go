package sts

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mtasts/mtasts/internal/untrusted"
)

// Mode is the policy mode of RFC 8461 §3.2 and §5.
type Mode string

// The policy modes, with the RFC's own (case-sensitive) values.
const (
	// ModeEnforce: senders must not deliver to an MX host that fails
	// validation (RFC 8461 §5).
	ModeEnforce Mode = "enforce"
	// ModeTesting: senders deliver anyway and report failures with TLS-RPT
	// (RFC 8461 §5, RFC 8460).
	ModeTesting Mode = "testing"
	// ModeNone: senders act as if the domain had no policy (RFC 8461 §5);
	// used to retire a policy (§8.3).
	ModeNone Mode = "none"
)

// Valid reports whether m is one of the three modes of RFC 8461 §3.2.
func (m Mode) Valid() bool {
	return m == ModeEnforce || m == ModeTesting || m == ModeNone
}

// Policy keys of RFC 8461 §3.2.
const (
	keyVersion = "version"
	keyMode    = "mode"
	keyMaxAge  = "max_age"
	keyMX      = "mx"
)

// MaxMaxAge is the largest max_age of RFC 8461 §3.2: 31557600 seconds, about
// one year.
const MaxMaxAge = 31557600

// maxAgeDigits is the ABNF's limit: sts-policy-max-age-value = 1*10(DIGIT).
// Erratum 7282 proposes 1*8, which is all MaxMaxAge needs; the published 10
// digits are accepted (leading zeros included) and MaxMaxAge does the rest.
const maxAgeDigits = 10

// Policy is an MTA-STS policy file (RFC 8461 §3.2), served at
// https://mta-sts.<domain>/.well-known/mta-sts.txt.
type Policy struct {
	// Version is always "STSv1".
	Version string
	// Mode says what senders do when an MX host fails validation.
	Mode Mode
	// MaxAge is how long senders may cache the policy, in seconds, at most
	// MaxMaxAge.
	MaxAge int64
	// MX lists the MX host name patterns in file order, as written: host
	// names or "*." followed by a domain (see MatchPattern).
	MX []string
	// Extensions are the lines with other keys, in file order. RFC 8461
	// §3.2 says senders ignore them.
	Extensions []Extension
}

// MaxAgeDuration returns MaxAge as a time.Duration.
func (p *Policy) MaxAgeDuration() time.Duration {
	return time.Duration(p.MaxAge) * time.Second
}

// String returns the policy in canonical form, with CRLF line endings, in
// this fixed order: version, mode, each mx pattern in order, max_age, then
// each extension in order. This is the order of the RFC's example and puts
// version first, which some senders expect. The result parses back to an
// equal Policy.
func (p *Policy) String() string {
	var b strings.Builder
	line := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	v := p.Version
	if v == "" {
		v = "STSv1"
	}
	line(keyVersion, v)
	line(keyMode, string(p.Mode))
	for _, mx := range p.MX {
		line(keyMX, mx)
	}
	line(keyMaxAge, strconv.FormatInt(p.MaxAge, 10))
	for _, e := range p.Extensions {
		line(e.Key, e.Value)
	}
	return b.String()
}

// ParsePolicy parses a policy file (RFC 8461 §3.2). It is ParsePolicyLint
// without the warnings.
func ParsePolicy(text []byte) (*Policy, error) {
	p, _, err := ParsePolicyLint(text)
	return p, err
}

// ParsePolicyLint parses a policy file by RFC 8461 §3.2 and also returns
// warnings about things that are valid but likely mistakes (see Warning).
// On error the policy is nil, the error is a *SyntaxError (the first problem
// found) and the warnings found so far are still returned.
//
// The rules, from the ABNF and text of §3.2:
//
//   - Lines end with LF or CRLF (erratum 6253); the last line may lack an
//     end. A CR elsewhere is an error.
//   - Each line is key ":" *WSP value *WSP, with no whitespace before the
//     key or the colon. Keys and the values of version and mode are
//     case-sensitive. Extension values may hold UTF-8 but no control
//     characters (inner tabs included).
//   - version must be "STSv1"; mode "enforce", "testing" or "none";
//     max_age 1 to 10 digits, at most MaxMaxAge; each mx a host name or "*."
//     and a domain, in A-labels.
//   - version, mode and max_age are required; mx is required unless mode is
//     none. For a repeated key other than mx the first line wins and later
//     ones are ignored (only checked to be well-formed lines).
//   - Other keys are extensions: kept, otherwise ignored.
//
// Two deviations from the ABNF are tolerated, with a warning, because
// rejecting a policy makes senders treat the domain as having none (a
// downgrade) over a purely cosmetic slip with one obvious meaning: blank
// lines (including a trailing empty line), which the ABNF does not allow
// between or after fields, and one trailing dot on an mx pattern.
func ParsePolicyLint(text []byte) (*Policy, []Warning, error) {
	ps := &policyParser{firstLine: map[string]int{}}
	p, err := ps.parse(text)
	if err != nil {
		return nil, ps.warnings, err
	}
	ps.lintPolicy(p, len(text))
	return p, ps.warnings, nil
}

// LintPolicy is ParsePolicyLint for people fixing a policy file: it reads
// on past an invalid line and returns every problem, in the order found
// (each line's first, then the required keys missing), instead of the
// first alone. The policy is nil when errs is not empty.
func LintPolicy(text []byte) (p *Policy, warnings []Warning, errs []*SyntaxError) {
	ps := &policyParser{firstLine: map[string]int{}, all: true}
	p, err := ps.parse(text)
	if err != nil {
		return nil, ps.warnings, ps.errs
	}
	ps.lintPolicy(p, len(text))
	return p, ps.warnings, nil
}

// policyParser holds the state of one ParsePolicyLint or LintPolicy call.
type policyParser struct {
	warnings  []Warning
	firstLine map[string]int // key → line of its first occurrence
	// all makes parse go on after an error, collecting each in errs.
	all  bool
	errs []*SyntaxError
}

// fail records err and says whether parsing stops: at the first error
// unless every error is asked for.
func (ps *policyParser) fail(err error) bool {
	se, ok := err.(*SyntaxError)
	if !ok {
		se = &SyntaxError{Reason: err.Error(), Section: secPolicy}
	}
	ps.errs = append(ps.errs, se)
	return !ps.all
}

func (ps *policyParser) warn(line int, key, code, section, format string, args ...any) {
	ps.warnings = append(ps.warnings, Warning{Line: line, Key: key, Code: code, Message: fmt.Sprintf(format, args...), Section: section})
}

func (ps *policyParser) parse(text []byte) (*Policy, error) {
	p, err := ps.parseAll(text)
	if err == nil && len(ps.errs) > 0 {
		err = ps.errs[0]
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// parseAll parses text into p, recording each problem with fail; it
// returns the error that stopped it, if one did.
func (ps *policyParser) parseAll(text []byte) (*Policy, error) {
	p := &Policy{}
	firstEnding, fields, mixed := "", 0, false
	for n, rest := 1, text; len(rest) > 0; n++ {
		raw, ending, next := cutLine(rest)
		rest = next
		if ending != "" {
			if firstEnding == "" {
				firstEnding = ending
			} else if ending != firstEnding && !mixed {
				mixed = true
				ps.warn(n, "", WarnMixedLineEndings, secPolicy+", erratum 6253",
					"line ends with %s but line 1 ends with %s; use one style", endingName(ending), endingName(firstEnding))
			}
		}
		if i := bytes.IndexByte(raw, '\r'); i >= 0 {
			err := &SyntaxError{Line: n, Reason: "carriage return not followed by line feed", Section: secPolicy}
			if ps.fail(err) {
				return nil, err
			}
			continue
		}
		line := string(raw)
		if strings.Trim(line, " \t") == "" {
			ps.warn(n, "", WarnBlankLine, secPolicy, "blank line; the ABNF has none, so strict senders reject this policy")
			continue
		}
		fields++
		if err := ps.parseLine(p, n, line, fields == 1); err != nil && ps.fail(err) {
			return nil, err
		}
	}
	if fields == 0 {
		err := &SyntaxError{Reason: "policy is empty", Section: secPolicy}
		ps.fail(err)
		return nil, err
	}
	for _, k := range []string{keyVersion, keyMode, keyMaxAge} {
		if _, ok := ps.firstLine[k]; !ok {
			err := &SyntaxError{Key: k, Reason: fmt.Sprintf("required key %q missing", k), Section: secPolicy}
			if ps.fail(err) {
				return nil, err
			}
		}
	}
	// An mx line that was there but invalid has its own error already.
	if _, seen := ps.firstLine[keyMX]; len(p.MX) == 0 && p.Mode != ModeNone && !seen {
		err := &SyntaxError{Key: keyMX, Reason: fmt.Sprintf(`required key "mx" missing; only mode "none" may leave it out, not %q`, p.Mode), Section: secPolicy}
		if ps.fail(err) {
			return nil, err
		}
	}
	return p, nil
}

// parseLine parses one non-blank line n into p.
func (ps *policyParser) parseLine(p *Policy, n int, line string, first bool) error {
	fail := func(key, value, reason string) error {
		return &SyntaxError{Line: n, Key: key, Value: value, Reason: reason, Section: secPolicy}
	}
	if isWSP(line[0]) {
		return fail("", "", `line begins with whitespace; expected "key: value"`)
	}
	key, value, ok := strings.Cut(line, ":")
	if !ok {
		return fail("", "", fmt.Sprintf(`line %s has no ":"; expected "key: value"`, untrusted.Quote(line)))
	}
	if k := strings.TrimRight(key, " \t"); k != key {
		return fail("", "", fmt.Sprintf(`whitespace between key %s and ":"`, untrusted.Quote(k)))
	}
	if reason := checkName(key); reason != "" {
		return fail("", "", fmt.Sprintf("key %s %s", untrusted.Quote(key), reason))
	}
	value = strings.Trim(value, " \t")
	if reason := checkPolicyValue(value); reason != "" {
		return fail(key, value, reason)
	}
	if first && key != keyVersion {
		ps.warn(n, key, WarnVersionNotFirst, secPolicy, `the first line is %q, not "version"; some senders expect version first`, key)
	}
	switch key {
	case keyVersion, keyMode, keyMaxAge:
		if at, dup := ps.firstLine[key]; dup {
			ps.warn(n, key, WarnDuplicateKey, secPolicy, "key %q repeated; the first occurrence (line %d) is used and this one ignored", key, at)
			return nil
		}
		ps.firstLine[key] = n
	case keyMX:
		if _, seen := ps.firstLine[key]; !seen {
			ps.firstLine[key] = n
		}
	}
	switch key {
	case keyVersion:
		if value != "STSv1" {
			return fail(key, value, `must be "STSv1"`)
		}
		p.Version = value
	case keyMode:
		m := Mode(value)
		if !m.Valid() {
			if lm := Mode(asciiLower(value)); lm.Valid() {
				return fail(key, value, fmt.Sprintf("is not a mode; modes are case-sensitive: use %q", lm))
			}
			return fail(key, value, `must be "enforce", "testing" or "none"`)
		}
		p.Mode = m
	case keyMaxAge:
		age, reason := parseMaxAge(value)
		if reason != "" {
			return fail(key, value, reason)
		}
		p.MaxAge = age
	case keyMX:
		reason, trailingDot := checkPattern(value)
		if reason != "" {
			return fail(key, value, reason)
		}
		if trailingDot {
			ps.warn(n, key, WarnMXTrailingDot, secPolicy, "mx %q ends with a dot; the ABNF has no trailing dot, so strict senders reject this policy", value)
		}
		if isIPPattern(value) {
			ps.warn(n, key, WarnMXIPAddress, secMatch, "mx %q is an IP address; MX records name hosts, so it can never match an MX host name", value)
		}
		p.MX = append(p.MX, value)
	default:
		ps.warnUnknownKey(n, key)
		p.Extensions = append(p.Extensions, Extension{Key: key, Value: value})
	}
	return nil
}

// parseMaxAge parses sts-policy-max-age-value = 1*10(DIGIT), at most
// MaxMaxAge. It returns a reason on failure.
func parseMaxAge(v string) (int64, string) {
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, "must be a number of seconds (digits only)"
		}
	}
	if len(v) > maxAgeDigits {
		return 0, fmt.Sprintf("has more than %d digits", maxAgeDigits)
	}
	age, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, "is not a number"
	}
	if age > MaxMaxAge {
		return 0, fmt.Sprintf("exceeds %d", MaxMaxAge)
	}
	return age, ""
}

// checkPolicyValue checks the common value syntax of a policy line
// (sts-policy-ext-value): non-empty, valid UTF-8, no control characters
// (only spaces inside). The caller has trimmed the surrounding *WSP. It
// returns a reason, or "".
func checkPolicyValue(v string) string {
	if v == "" {
		return "has an empty value"
	}
	if !utf8.ValidString(v) {
		return "is not valid UTF-8"
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return "holds the control character " + untrusted.Byte(v, i)
		}
	}
	return ""
}

// cutLine splits off the first line of text. ending is "\r\n", "\n", or ""
// for a last line without end; the line excludes its ending.
func cutLine(text []byte) (line []byte, ending string, rest []byte) {
	i := bytes.IndexByte(text, '\n')
	if i < 0 {
		return text, "", nil
	}
	if i > 0 && text[i-1] == '\r' {
		return text[:i-1], "\r\n", text[i+1:]
	}
	return text[:i], "\n", text[i+1:]
}

func endingName(e string) string {
	if e == "\r\n" {
		return "CRLF"
	}
	return "LF"
}
