package sts

import "testing"

// matchCases are MX pattern matches (RFC 8461 §4.1). Also seeds for
// FuzzMatchPattern.
var matchCases = []struct {
	name          string
	pattern, host string
	want          bool
}{
	{"RFC 8461 §4.1: exact name", "mx.example.com", "mx.example.com", true},
	{"RFC 8461 §4.1: case-insensitive", "MX.Example.com", "mx.EXAMPLE.COM", true},
	{"RFC 8461 §4.1: trailing dot on host ignored", "mx.example.com", "mx.example.com.", true},
	{"RFC 8461 §4.1: trailing dot on pattern ignored", "mx.example.com.", "mx.example.com", true},
	{"RFC 8461 §4.1: different name", "mx.example.com", "mx2.example.com", false},
	{"RFC 8461 §4.1: no suffix matching", "example.com", "mx.example.com", false},
	{"RFC 8461 §4.1: no suffix matching on a label boundary", "mx.example.com", "evilmx.example.com", false},
	{"RFC 8461 §4.1: no prefix matching", "mx.example.com", "mx.example.com.evil.net", false},
	{"RFC 8461 §4.1: wildcard matches one label", "*.example.com", "mx.example.com", true},
	{"RFC 8461 §4.1: wildcard case-insensitive", "*.Example.COM", "MX.example.com.", true},
	{"RFC 8461 §4.1: wildcard does not match the bare domain", "*.example.com", "example.com", false},
	{"RFC 8461 §4.1: wildcard does not match two labels", "*.example.com", "a.b.example.com", false},
	{"RFC 8461 §4.1: wildcard is not a suffix match", "*.example.com", "mx.badexample.com", false},
	{"RFC 8461 §4.1: wildcard needs a non-empty label", "*.example.com", ".example.com", false},
	{"RFC 8461 §4.1: wildcard without domain", "*.", "com", false},
	{"RFC 8461 §4.1: bare star", "*", "com", false},
	{"RFC 8461 §4.1: star inside a pattern", "mx.*.com", "mx.example.com", false},
	{"RFC 8461 §4.1: partial-label wildcard", "mx*.example.com", "mx1.example.com", false},
	{"RFC 8461 §4.1: host with a star", "*.example.com", "*.example.com", false},
	{"RFC 8461 §4.1: literal star pattern and host", "mx.*.com", "mx.*.com", false},
	{"RFC 8461 §4.1: empty host", "example.com", "", false},
	{"RFC 8461 §4.1: empty pattern", "", "", false},
	{"RFC 8461 §4.1: empty label in host", "mx.example.com", "mx..example.com", false},
	{"RFC 8461 §4.1: empty label in pattern", "mx..example.com", "mx..example.com", false},
	{"RFC 8461 §4.1: dot only", ".", ".", false},
	{"RFC 8461 §4.1: A-labels compare as ASCII", "*.xn--bcher-kva.example", "mx.XN--BCHER-KVA.example", true},
}

func TestMatchPattern(t *testing.T) {
	for _, tc := range matchCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := MatchPattern(tc.pattern, tc.host); got != tc.want {
				t.Errorf("MatchPattern(%q, %q) = %v, want %v", tc.pattern, tc.host, got, tc.want)
			}
		})
	}
}

func TestPolicyMatch(t *testing.T) {
	p, err := ParsePolicy([]byte(rfcExample))
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"mail.example.com":      true,  // RFC 8461 §4.1: exact
		"mx1.example.net":       true,  // RFC 8461 §4.1: wildcard
		"BACKUPMX.example.com.": true,  // RFC 8461 §4.1: case and trailing dot
		"example.net":           false, // RFC 8461 §4.1: wildcard needs a label
		"a.mx1.example.net":     false, // RFC 8461 §4.1: exactly one label
		"mx.example.com":        false, // RFC 8461 §4.1: no suffix match
	} {
		if got := p.Match(host); got != want {
			t.Errorf("Match(%q) = %v, want %v", host, got, want)
		}
	}
}
