package dnsx

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Limits on presentation-format names (RFC 1035 §2.3.4).
const (
	maxLabelLen = 63
	maxNameLen  = 253 // without the trailing dot
)

// dotReplacer maps the full stops that IDNA treats as label separators
// (RFC 3490 §3.1) to ".".
var dotReplacer = strings.NewReplacer("\u3002", ".", "\uff0e", ".", "\uff61", ".")

// canonicalName returns name as a lower-case, fully qualified name of
// A-labels, as sent on the wire: "Bücher.Example" → "xn--bcher-kva.example.".
// Labels in ASCII are kept as they are (lower-cased), so underscore labels
// such as "_mta-sts" pass; labels with other characters are converted with
// the IDNA Lookup profile (RFC 5891 §5). Only letters, digits, "-" and "_"
// are accepted in the result, as package net does.
func canonicalName(name string) (string, error) {
	if name == "." {
		return ".", nil
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("not valid UTF-8")
	}
	name = strings.TrimSuffix(dotReplacer.Replace(name), ".")
	if name == "" {
		return "", fmt.Errorf("empty name")
	}
	labels := strings.Split(name, ".")
	for i, label := range labels {
		if label == "" {
			return "", fmt.Errorf("empty label")
		}
		if !isASCII(label) {
			a, err := idna.Lookup.ToASCII(label)
			if err != nil {
				return "", fmt.Errorf("label %q: %w", label, err)
			}
			label = a
		}
		label = strings.ToLower(label)
		if len(label) > maxLabelLen {
			return "", fmt.Errorf("label %q longer than %d octets", label, maxLabelLen)
		}
		for _, b := range []byte(label) {
			if !('a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
				return "", fmt.Errorf("label %q: character %q not allowed", label, b)
			}
		}
		labels[i] = label
	}
	name = strings.Join(labels, ".")
	if len(name) > maxNameLen {
		return "", fmt.Errorf("name longer than %d octets", maxNameLen)
	}
	return name + ".", nil
}

// isASCII reports whether s is all ASCII.
func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// displayName returns a canonical name without its trailing dot, as names
// appear in Result.CNAMEs and in errors ("." stays ".").
func displayName(fqdn string) string {
	if fqdn == "." {
		return fqdn
	}
	return strings.TrimSuffix(fqdn, ".")
}
