package sts

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// DNS length limits (RFC 1035 §2.3.4; 253 is 255 octets of wire format
// without the root label).
const (
	maxLabelLen  = 63
	maxDomainLen = 253
)

// NormalizeDomain returns the form of a domain name used for lookups: the
// trailing dot removed, lower-cased, and internationalized labels (U-labels)
// converted to A-labels ("xn--…", RFC 5891), by the Lookup profile of
// golang.org/x/net/idna (UTS #46 mapping).
// It rejects an empty name, an IP address or address literal (RFC 8461
// §3.4: there is no policy for address literals), labels that are not
// letters, digits and inner hyphens, and names over the DNS length limits.
// Errors satisfy errors.Is(err, ErrInvalidDomain).
func NormalizeDomain(s string) (string, error) {
	if IsNormalDomain(s) {
		return s, nil
	}
	return normalizeDomain(s)
}

// normalizeDomain is NormalizeDomain without the fast path.
func normalizeDomain(s string) (string, error) {
	fail := func(reason string) (string, error) {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidDomain, s, reason)
	}
	name := strings.TrimSuffix(s, ".")
	switch {
	case name == "":
		return fail("empty name")
	case strings.HasPrefix(name, "["):
		return fail("address literals have no MTA-STS policy (RFC 8461 §3.4)")
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return fail("IP addresses have no MTA-STS policy (RFC 8461 §3.4)")
	}
	// idna turns invalid UTF-8 into U+FFFD without complaint.
	if !utf8.ValidString(name) {
		return fail("not valid UTF-8")
	}
	// Check ASCII labels first, for messages that name the problem.
	for _, l := range strings.Split(name, ".") {
		if isASCII(l) {
			if reason := checkHostLabel(l); reason != "" {
				return fail(fmt.Sprintf("label %q %s", l, reason))
			}
		}
	}
	// UTS #46 mapping (case folding, full-width dots, NFC), U-labels to
	// A-labels, and validation of A-labels.
	out, err := idna.Lookup.ToASCII(name)
	if err != nil {
		return fail(err.Error())
	}
	for _, l := range strings.Split(out, ".") {
		if reason := checkHostLabel(l); reason != "" {
			return fail(fmt.Sprintf("label %q %s", l, reason))
		}
	}
	if len(out) > maxDomainLen {
		return fail(fmt.Sprintf("longer than %d octets (RFC 1035 §2.3.4)", maxDomainLen))
	}
	return out, nil
}

// IsNormalDomain reports whether s is a name that NormalizeDomain returns
// unchanged, as far as a look at its bytes tells, without the IDNA
// mapping: it is for callers that normalize on every lookup. True means
// that NormalizeDomain(s) returns s and no error; false means that
// NormalizeDomain must be asked.
//
// The names it recognises are lower-case letters, digits and inner hyphens
// in labels of 1 to 63 octets, without a trailing dot, of at most 253
// octets, with no label that has "--" in its third and fourth octets (an
// A-label such as "xn--…", which IDNA checks) and with a last label that
// is not all digits (which might be part of an IP address).
func IsNormalDomain(s string) bool {
	if len(s) == 0 || len(s) > maxDomainLen {
		return false
	}
	label, digitsOnly := 0, true // length of the current label
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 || s[i-1] == '-' {
				return false
			}
			label, digitsOnly = 0, true
			continue
		case 'a' <= c && c <= 'z':
			digitsOnly = false
		case '0' <= c && c <= '9':
		case c == '-':
			if label == 0 || label == 3 && s[i-1] == '-' {
				return false
			}
			digitsOnly = false
		default:
			return false
		}
		if label++; label > maxLabelLen {
			return false
		}
	}
	return !digitsOnly && s[len(s)-1] != '-'
}

// checkHostLabel checks an ASCII label against RFC 5321's sub-domain
// (Let-dig [Ldh-str]) and the DNS label length. It returns a reason, or "".
func checkHostLabel(l string) string {
	switch {
	case l == "":
		return "is empty"
	case len(l) > maxLabelLen:
		return fmt.Sprintf("is longer than %d octets (RFC 1035 §2.3.4)", maxLabelLen)
	case l[0] == '-' || l[len(l)-1] == '-':
		return `must not begin or end with "-"`
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !isAlphaDigit(c) && c != '-' {
			return fmt.Sprintf("may hold only letters, digits and \"-\"; %q is not allowed", c)
		}
	}
	return ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// asciiLower lower-cases ASCII letters only, leaving other bytes alone.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
