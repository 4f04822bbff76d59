package sts

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestPolicyLint(t *testing.T) {
	const head = "version: STSv1\n"
	tests := []struct {
		name string
		text string
		want []Warning // Message is checked with strings.Contains
	}{
		{"RFC 8461 §3.2: clean policy", rfcExample, nil},
		{"RFC 8461 §3.2: max_age below one day", head + "mode: testing\nmx: a.example\nmax_age: 3600\n", []Warning{
			{Line: 4, Key: "max_age", Code: WarnMaxAgeShort, Message: "less than one day"},
			{Line: 2, Key: "mode", Code: WarnModeTesting, Message: "report"},
		}},
		{"RFC 8461 §3.2: max_age below one week in enforce", head + "mode: enforce\nmx: a.example\nmax_age: 86400\n", []Warning{
			{Line: 4, Key: "max_age", Code: WarnMaxAgeShort, Message: "less than one week"},
		}},
		{"RFC 8461 §3.2: one day is fine in testing", head + "mode: testing\nmx: a.example\nmax_age: 86400\n", []Warning{
			{Line: 2, Key: "mode", Code: WarnModeTesting},
		}},
		{"RFC 8461 §8.3: short max_age is fine in mode none", head + "mode: none\nmax_age: 60\n", nil},
		{"RFC 8461 §5: mode none with mx lines", head + "mode: none\nmx: a.example\nmx: b.example\nmax_age: 86400\n", []Warning{
			{Line: 3, Key: "mx", Code: WarnModeNoneMX, Message: "ignore"},
		}},
		{"RFC 8461 §3.2, erratum 6253: mixed line endings reported once", head + "mode: enforce\r\nmx: a.example\r\nmax_age: 604800\n", []Warning{
			{Line: 2, Code: WarnMixedLineEndings, Message: "CRLF but line 1 ends with LF"},
		}},
		{"RFC 8461 §3.2: duplicate key names the line used", head + "mode: enforce\nmx: a.example\nmax_age: 604800\nmode: testing\n", []Warning{
			{Line: 5, Key: "mode", Code: WarnDuplicateKey, Message: "first occurrence (line 2) is used"},
		}},
		{"RFC 8461 §4.1: IPv4 mx", head + "mode: enforce\nmx: 192.0.2.25\nmax_age: 604800\n", []Warning{
			{Line: 3, Key: "mx", Code: WarnMXIPAddress, Message: "can never match an MX host name"},
		}},
		{"RFC 8461 §3.3: large policy", head + "mode: enforce\nmx: a.example\nmax_age: 604800\n" + strings.Repeat("x-pad: "+strings.Repeat("p", 100)+"\n", 40), nil},
		{"RFC 8461 §3.2: typo of max_age", head + "mode: none\nmax_age: 86400\nmax-age: 86400\n", []Warning{
			{Line: 4, Key: "max-age", Code: WarnUnknownKey, Message: `did you mean "max_age"?`},
		}},
		{"RFC 8461 §3.2: typo of mode", head + "mode: none\nmax_age: 86400\nmdoe: enforce\n", []Warning{
			{Line: 4, Key: "mdoe", Code: WarnUnknownKey, Message: `did you mean "mode"?`},
		}},
		{"RFC 8461 §3.2: capitalised MX", head + "mode: none\nmax_age: 86400\nMX: a.example\n", []Warning{
			{Line: 4, Key: "MX", Code: WarnUnknownKey, Message: `did you mean "mx"?`},
		}},
		{"RFC 8461 §3.2: extension", head + "mode: none\nmax_age: 86400\nx-owner: ops\n", []Warning{
			{Line: 4, Key: "x-owner", Code: WarnUnknownKey, Message: "extension"},
		}},
		{"RFC 8461 §3.2: version not first", "mode: none\nversion: STSv1\nmax_age: 86400\n", []Warning{
			{Line: 1, Key: "mode", Code: WarnVersionNotFirst},
		}},
		{"RFC 8461 §3.2: blank line", head + "\nmode: none\nmax_age: 86400\n", []Warning{
			{Line: 2, Code: WarnBlankLine},
		}},
		{"RFC 8461 §3.2: mx trailing dot", head + "mode: enforce\nmx: a.example.\nmax_age: 604800\n", []Warning{
			{Line: 3, Key: "mx", Code: WarnMXTrailingDot},
		}},
	}
	// The large policy gets one warning per padding line, then the size.
	for i := range tests {
		if strings.HasPrefix(tests[i].name, "RFC 8461 §3.3") {
			for n := 5; n < 45; n++ {
				tests[i].want = append(tests[i].want, Warning{Line: n, Key: "x-pad", Code: WarnUnknownKey})
			}
			tests[i].want = append(tests[i].want, Warning{Code: WarnPolicyLarge, Message: "over 4 KiB"})
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got, err := ParsePolicyLint([]byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range got {
				if w.Section == "" || w.Message == "" {
					t.Errorf("warning %d %+v lacks a section or message", i, w)
				}
				if i < len(tc.want) && strings.Contains(w.Message, tc.want[i].Message) {
					got[i].Message = tc.want[i].Message
				}
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Warning{}, "Section"), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePolicyLintKeepsWarningsOnError(t *testing.T) {
	_, warns, err := ParsePolicyLint([]byte("version: STSv1\n\nmode: sometimes\n"))
	if err == nil {
		t.Fatal("want error")
	}
	if diff := cmp.Diff([]string{WarnBlankLine}, warningCodes(warns)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestWarningString(t *testing.T) {
	w := Warning{Line: 4, Key: "max_age", Code: WarnMaxAgeShort, Message: "max_age 60 is short", Section: "RFC 8461 §3.2"}
	if got, want := w.String(), "policy line 4: max_age 60 is short [max-age-short] (RFC 8461 §3.2)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
