package check

import (
	"slices"
	"strings"
	"testing"
)

// TestLintPolicy checks that every error of a policy file is reported with
// its line (RFC 8461 §3.2), and the status each result gives.
func TestLintPolicy(t *testing.T) {
	tests := []struct {
		name, policy string
		status       string
		lines        []int // of the problems, in order
		text         string
	}{
		{"valid", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800\n", StatusOK, nil, "p.txt: valid (mode enforce, max_age 604800, 1 mx)\n"},
		{"warning", "version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400\n", StatusWarning, []int{2}, "p.txt: valid, 1 warning"},
		{"two errors", "version: STSv2\nmode: enforce\nmx: mx.example.com\nmax_age: soon\n", StatusError, []int{1, 4}, "p.txt: invalid, 2 errors\n"},
		{"too big", strings.Repeat("#", MaxLintBytes+1), StatusError, []int{0}, "over 1024 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := LintPolicy("p.txt", []byte(tt.policy))
			if r.Status() != tt.status || r.Valid != (tt.status != StatusError) {
				t.Errorf("status %s, valid %v; want %s", r.Status(), r.Valid, tt.status)
			}
			var lines []int
			for _, p := range r.Problems {
				lines = append(lines, p.Line)
			}
			if !slices.Equal(lines, tt.lines) {
				t.Errorf("problem lines %v, want %v: %v", lines, tt.lines, r.Problems)
			}
			var b strings.Builder
			if err := r.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tt.text) {
				t.Errorf("text %q does not contain %q", b.String(), tt.text)
			}
		})
	}
}

// TestPolicyFetchTextEscapes checks that what a policy host sent cannot
// act on the terminal it is shown on.
func TestPolicyFetchTextEscapes(t *testing.T) {
	r := &PolicyFetch{Domain: "example.com", Verdict: VerdictNoPolicy, Record: RecordView{Name: "_mta-sts.example.com"},
		Fetch: &FetchView{URL: "https://mta-sts.example.com/.well-known/mta-sts.txt", Status: 200, ContentType: "text/plain\x1b[2J", Text: "version: STSv1\x1b]0;owned\x07\n"}}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(b.String(), "\x1b\x07") {
		t.Errorf("control characters reach the terminal:\n%q", b.String())
	}
}
