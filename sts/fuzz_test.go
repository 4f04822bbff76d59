package sts

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseRecord checks that ParseRecord never panics, that its errors are
// *RecordSyntaxError within the input, and that a parsed record prints to a
// string that parses back to the same record (RFC 8461 §3.1).
func FuzzParseRecord(f *testing.F) {
	for _, tc := range goodRecords {
		f.Add(tc.txt)
	}
	for _, tc := range badRecords {
		f.Add(tc.txt)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		r, err := ParseRecord(txt)
		if err != nil {
			var se *RecordSyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrRecordSyntax) {
				t.Fatalf("error %v is not a *RecordSyntaxError", err)
			}
			if se.Offset < 0 || se.Offset > len(txt) {
				t.Fatalf("offset %d outside the record of %d bytes", se.Offset, len(txt))
			}
			return
		}
		if !strings.HasPrefix(txt, recordPrefix) {
			t.Fatalf("ParseRecord accepted %q, which does not begin with %q", txt, recordPrefix)
		}
		again, err := ParseRecord(r.String())
		if err != nil {
			t.Fatalf("String() = %q does not parse: %v", r.String(), err)
		}
		if diff := cmp.Diff(r, again); diff != "" {
			t.Fatalf("round trip of %q through %q (-first +second):\n%s", txt, r.String(), diff)
		}
		sel, err := SelectRecord([]string{"v=spf1 -all", txt})
		if err != nil || sel.ID != r.ID {
			t.Fatalf("SelectRecord disagrees with ParseRecord on %q: %v, %v", txt, sel, err)
		}
	})
}

// FuzzParsePolicy checks that ParsePolicyLint never panics, that its errors
// are *SyntaxError, and that a parsed policy prints to text that parses
// back to the same policy without warnings about form (RFC 8461 §3.2). It
// also checks that each mx pattern matches a host built from it (§4.1).
func FuzzParsePolicy(f *testing.F) {
	for _, tc := range goodPolicies {
		f.Add([]byte(tc.text))
	}
	for _, tc := range badPolicies {
		f.Add([]byte(tc.text))
	}
	files, _ := filepath.Glob("testdata/policy/*.txt")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		p, _, err := ParsePolicyLint(text)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrPolicySyntax) {
				t.Fatalf("error %v is not a *SyntaxError", err)
			}
			if se.Line < 0 || se.Line > strings.Count(string(text), "\n")+1 {
				t.Fatalf("error line %d outside the text", se.Line)
			}
			return
		}
		canon := p.String()
		again, warns, err := ParsePolicyLint([]byte(canon))
		if err != nil {
			t.Fatalf("String() = %q does not parse: %v", canon, err)
		}
		if diff := cmp.Diff(p, again); diff != "" {
			t.Fatalf("round trip through %q (-first +second):\n%s", canon, diff)
		}
		for _, w := range warns {
			switch w.Code {
			case WarnBlankLine, WarnMixedLineEndings, WarnDuplicateKey, WarnVersionNotFirst:
				t.Errorf("canonical form %q gives warning %v", canon, w)
			}
		}
		for _, pat := range p.MX {
			host := pat
			if rest, ok := strings.CutPrefix(pat, "*."); ok {
				host = "x." + rest
			}
			if !p.Match(host) {
				t.Errorf("pattern %q does not match host %q", pat, host)
			}
		}
	})
}

// FuzzMatchPattern checks MatchPattern's invariants (RFC 8461 §4.1): it
// ignores case and one trailing dot, an exact pattern matches only its own
// name, and a wildcard pattern only names with one more label.
func FuzzMatchPattern(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.pattern, tc.host)
	}
	f.Fuzz(func(t *testing.T, pattern, host string) {
		got := MatchPattern(pattern, host)
		if MatchPattern(strings.ToUpper(pattern), asciiLower(host)) != got && isASCII(pattern) {
			t.Errorf("MatchPattern(%q, %q) depends on case", pattern, host)
		}
		if !strings.HasSuffix(host, ".") && MatchPattern(pattern, host+".") != got {
			t.Errorf("MatchPattern(%q, %q) depends on a trailing dot", pattern, host)
		}
		if !got {
			return
		}
		p := asciiLower(strings.TrimSuffix(pattern, "."))
		h := asciiLower(strings.TrimSuffix(host, "."))
		if strings.Contains(h, "*") || strings.Contains(h, "..") || h == "" {
			t.Fatalf("MatchPattern(%q, %q) matched an invalid host", pattern, host)
		}
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			if strings.Count(h, ".") != strings.Count(rest, ".")+1 || !strings.HasSuffix(h, "."+rest) {
				t.Fatalf("wildcard %q matched %q, which is not one label plus %q", pattern, host, rest)
			}
			return
		}
		if p != h {
			t.Fatalf("exact pattern %q matched a different host %q", pattern, host)
		}
	})
}

// FuzzNormalizeDomain checks that NormalizeDomain returns lower-case ASCII
// names that it maps to themselves, and that its fast path for names
// already in that form agrees with the full path (IDNA mapping).
func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{"Example.COM.", "bücher.example", "例え。テスト", "192.0.2.1", "a..b", "xn--zz.example", "\xff"} {
		f.Add(s)
	}
	for _, tc := range goodDomains {
		f.Add(tc.in)
	}
	for _, tc := range badDomains {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if IsNormalDomain(s) {
			if got, err := normalizeDomain(s); err != nil || got != s {
				t.Fatalf("fast path takes %q as it is; full path gives %q, %v", s, got, err)
			}
		}
		d, err := NormalizeDomain(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidDomain) {
				t.Fatalf("error %v is not ErrInvalidDomain", err)
			}
			return
		}
		if !isASCII(d) || asciiLower(d) != d || d == "" || len(d) > maxDomainLen {
			t.Fatalf("NormalizeDomain(%q) = %q, not a lower-case ASCII name", s, d)
		}
		if again, err := normalizeDomain(d); err != nil || again != d {
			t.Fatalf("NormalizeDomain(%q) = %q, %v; want it unchanged", d, again, err)
		}
	})
}
