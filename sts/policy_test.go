package sts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const rfcExample = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n"

// goodPolicies are valid policies, what they parse to and the codes of the
// warnings they give. Also seeds for FuzzParsePolicy.
var goodPolicies = []struct {
	name  string
	text  string
	want  Policy
	warns []string
}{
	{"RFC 8461 §3.2: example policy, LF", rfcExample,
		Policy{"STSv1", ModeEnforce, 604800, []string{"mail.example.com", "*.example.net", "backupmx.example.com"}, nil}, nil},
	{"RFC 8461 §3.2, erratum 6253: CRLF", "version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 604800\r\n",
		Policy{"STSv1", ModeEnforce, 604800, []string{"mx.example.com"}, nil}, nil},
	{"RFC 8461 §3.2: last line without end", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800",
		Policy{"STSv1", ModeEnforce, 604800, []string{"mx.example.com"}, nil}, nil},
	{"RFC 8461 §3.2: *WSP after colon and after value", "version:STSv1 \nmode:\t enforce\t\nmx:  mx.example.com  \nmax_age: 604800 \t",
		Policy{"STSv1", ModeEnforce, 604800, []string{"mx.example.com"}, nil}, nil},
	{"RFC 8461 §3.2: mode none needs no mx", "version: STSv1\nmode: none\nmax_age: 86400\n",
		Policy{"STSv1", ModeNone, 86400, nil, nil}, nil},
	{"RFC 8461 §3.2: max_age 0", "version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 0\n",
		Policy{"STSv1", ModeTesting, 0, []string{"mx.example.com"}, nil}, []string{WarnMaxAgeShort, WarnModeTesting}},
	{"RFC 8461 §3.2: max_age of 10 digits with leading zeros", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 0031557600\n",
		Policy{"STSv1", ModeEnforce, MaxMaxAge, []string{"mx.example.com"}, nil}, nil},
	{"RFC 8461 §3.2: extensions kept, UTF-8 and inner spaces allowed", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800\nx-comment: grüße an  alle\n",
		Policy{"STSv1", ModeEnforce, 604800, []string{"mx.example.com"}, []Extension{{"x-comment", "grüße an  alle"}}}, []string{WarnUnknownKey}},
	{"RFC 8461 §3.2: mx kept as written", "version: STSv1\nmode: enforce\nmx: MX.Example.COM\nmx: xn--bcher-kva.example\nmx: localhost\nmax_age: 604800\n",
		Policy{"STSv1", ModeEnforce, 604800, []string{"MX.Example.COM", "xn--bcher-kva.example", "localhost"}, nil}, nil},
	{"RFC 8461 §3.2: first occurrence wins", "version: STSv1\nmode: enforce\nmode: bogus\nmx: a.example\nmax_age: 604800\nmax_age: 1\nversion: STSv9\nmx: b.example\n",
		Policy{"STSv1", ModeEnforce, 604800, []string{"a.example", "b.example"}, nil}, []string{WarnDuplicateKey, WarnDuplicateKey, WarnDuplicateKey}},
	{"RFC 8461 §3.2: IP address mx is valid by the ABNF", "version: STSv1\nmode: enforce\nmx: 192.0.2.1\nmax_age: 604800\n",
		Policy{"STSv1", ModeEnforce, 604800, []string{"192.0.2.1"}, nil}, []string{WarnMXIPAddress}},
	{"RFC 8461 §3.2: blank lines tolerated", "version: STSv1\n\nmode: enforce\r\n \t\r\nmx: mx.example.com\r\nmax_age: 604800\r\n\r\n",
		Policy{"STSv1", ModeEnforce, 604800, []string{"mx.example.com"}, nil}, []string{WarnBlankLine, WarnMixedLineEndings, WarnBlankLine, WarnBlankLine}},
	{"RFC 8461 §3.2: mx trailing dot tolerated", "version: STSv1\nmode: enforce\nmx: mx.example.com.\nmax_age: 604800\n",
		Policy{"STSv1", ModeEnforce, 604800, []string{"mx.example.com."}, nil}, []string{WarnMXTrailingDot}},
	{"RFC 8461 §3.2: any key order", "mx: mx.example.com\nmax_age: 604800\nmode: enforce\nversion: STSv1\n",
		Policy{"STSv1", ModeEnforce, 604800, []string{"mx.example.com"}, nil}, []string{WarnVersionNotFirst}},
}

func TestParsePolicyGood(t *testing.T) {
	for _, tc := range goodPolicies {
		t.Run(tc.name, func(t *testing.T) {
			got, warns, err := ParsePolicyLint([]byte(tc.text))
			if err != nil {
				t.Fatalf("ParsePolicyLint(%q): %v", tc.text, err)
			}
			if diff := cmp.Diff(&tc.want, got); diff != "" {
				t.Errorf("policy (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.warns, warningCodes(warns), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("warning codes (-want +got):\n%s\nwarnings: %v", diff, warns)
			}
			again, err := ParsePolicy([]byte(got.String()))
			if err != nil {
				t.Fatalf("ParsePolicy(String() = %q): %v", got.String(), err)
			}
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("round trip through %q (-first +second):\n%s", got.String(), diff)
			}
		})
	}
}

func warningCodes(ws []Warning) []string {
	var codes []string
	for _, w := range ws {
		codes = append(codes, w.Code)
	}
	return codes
}

// badPolicies are invalid policies with the line, key and a piece of the
// reason of the error. Also seeds for FuzzParsePolicy.
var badPolicies = []struct {
	name   string
	text   string
	line   int
	key    string
	reason string
}{
	{"RFC 8461 §3.2: empty", "", 0, "", "empty"},
	{"RFC 8461 §3.2: only blank lines", "\n\r\n  \n", 0, "", "empty"},
	{"RFC 8461 §3.2: version STSv2", "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 604800\n", 1, "version", `"STSv1"`},
	{"RFC 8461 §3.2: version is case-sensitive", "version: stsv1\nmode: enforce\nmx: a.example\nmax_age: 604800\n", 1, "version", `"STSv1"`},
	{"RFC 8461 §3.2: mode is case-sensitive", "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 604800\n", 2, "mode", `case-sensitive: use "enforce"`},
	{"RFC 8461 §3.2: unknown mode", "version: STSv1\nmode: reject\nmx: a.example\nmax_age: 604800\n", 2, "mode", `"enforce", "testing" or "none"`},
	{"RFC 8461 §3.2: first mode wins even if invalid", "version: STSv1\nmode: strict\nmode: enforce\nmx: a.example\nmax_age: 604800\n", 2, "mode", "must be"},
	{"RFC 8461 §3.2: max_age over one year", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", 4, "max_age", "exceeds 31557600"},
	{"RFC 8461 §3.2: max_age of 11 digits", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 00000000001\n", 4, "max_age", "more than 10 digits"},
	{"RFC 8461 §3.2: negative max_age", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", 4, "max_age", "digits only"},
	{"RFC 8461 §3.2: max_age with unit", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 86400s\n", 4, "max_age", "digits only"},
	{"RFC 8461 §3.2: mx wildcard without domain", "version: STSv1\nmode: enforce\nmx: *.\nmax_age: 604800\n", 3, "mx", `no domain after "*."`},
	{"RFC 8461 §3.2: mx wildcard inside", "version: STSv1\nmode: enforce\nmx: a.*.example.com\nmax_age: 604800\n", 3, "mx", `"*" only`},
	{"RFC 8461 §3.2: mx partial wildcard", "version: STSv1\nmode: enforce\nmx: *mx.example.com\nmax_age: 604800\n", 3, "mx", `"*" only`},
	{"RFC 8461 §3.2: mx double wildcard", "version: STSv1\nmode: enforce\nmx: *.*.example.com\nmax_age: 604800\n", 3, "mx", `"*" only`},
	{"RFC 8461 §3.2: mx underscore", "version: STSv1\nmode: enforce\nmx: mx_1.example.com\nmax_age: 604800\n", 3, "mx", `'_'`},
	{"RFC 8461 §3.2: mx label with leading hyphen", "version: STSv1\nmode: enforce\nmx: -mx.example.com\nmax_age: 604800\n", 3, "mx", `"-"`},
	{"RFC 8461 §3.2: mx empty label", "version: STSv1\nmode: enforce\nmx: mx..example.com\nmax_age: 604800\n", 3, "mx", "empty label"},
	{"RFC 8461 §3.2: mx just a dot", "version: STSv1\nmode: enforce\nmx: .\nmax_age: 604800\n", 3, "mx", "empty label"},
	{"RFC 1035 §2.3.4: mx label over 63 octets", "version: STSv1\nmode: enforce\nmx: " + strings.Repeat("a", 64) + ".example\nmax_age: 604800\n", 3, "mx", "longer than 63"},
	{"RFC 8461 §3.2: mx U-label", "version: STSv1\nmode: enforce\nmx: *.bücher.example\nmax_age: 604800\n", 3, "mx", `A-labels ("*.xn--bcher-kva.example")`},
	{"RFC 8461 §3.2: mx with a space", "version: STSv1\nmode: enforce\nmx: mx example.com\nmax_age: 604800\n", 3, "mx", `' '`},
	{"RFC 8461 §3.2: version missing", "mode: enforce\nmx: a.example\nmax_age: 604800\n", 0, "version", `required key "version" missing`},
	{"RFC 8461 §3.2: mode missing", "version: STSv1\nmx: a.example\nmax_age: 604800\n", 0, "mode", `required key "mode" missing`},
	{"RFC 8461 §3.2: max_age missing", "version: STSv1\nmode: none\n", 0, "max_age", `required key "max_age" missing`},
	{"RFC 8461 §3.2: mx missing in enforce", "version: STSv1\nmode: enforce\nmax_age: 604800\n", 0, "mx", `required key "mx" missing`},
	{"RFC 8461 §3.2: mx missing in testing", "version: STSv1\nmode: testing\nmax_age: 604800\n", 0, "mx", `"testing"`},
	{"RFC 8461 §3.2: leading whitespace", "version: STSv1\n mode: enforce\nmx: a.example\nmax_age: 604800\n", 2, "", "begins with whitespace"},
	{"RFC 8461 §3.2: no colon", "version: STSv1\nmode enforce\nmx: a.example\nmax_age: 604800\n", 2, "", `no ":"`},
	{"RFC 8461 §3.2: space before colon", "version: STSv1\nmode : enforce\nmx: a.example\nmax_age: 604800\n", 2, "", `between key "mode" and ":"`},
	{"RFC 8461 §3.2: bad key", "version: STSv1\nmode: enforce\nmx: a.example\nmax age: 604800\n", 4, "", `' '`},
	{"RFC 8461 §3.2: key over 32 characters", "version: STSv1\n" + strings.Repeat("k", 33) + ": v\n", 2, "", "longer than 32"},
	{"RFC 8461 §3.2: empty value", "version: STSv1\nmode:\nmx: a.example\nmax_age: 604800\n", 2, "mode", "empty value"},
	{"RFC 8461 §3.2, erratum 6253: lone CR", "version: STSv1\nmode: enforce\rmx: a.example\nmax_age: 604800\n", 2, "", "carriage return"},
	{"RFC 8461 §3.2, erratum 6253: CR at the end", "version: STSv1\nmode: none\nmax_age: 604800\r", 3, "", "carriage return"},
	{"RFC 8461 §3.2: tab inside a value", "version: STSv1\nmode: none\nmax_age: 604800\nnote: a\tb\n", 4, "note", "control character"},
	{"RFC 8461 §3.2: NUL byte", "version: STSv1\nmode: none\x00\nmax_age: 604800\n", 2, "mode", "control character"},
	{"RFC 8461 §3.2: invalid UTF-8", "version: STSv1\nmode: none\nmax_age: 604800\nnote: \xff\n", 4, "note", "UTF-8"},
}

func TestParsePolicyBad(t *testing.T) {
	for _, tc := range badPolicies {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePolicy([]byte(tc.text))
			if err == nil {
				t.Fatalf("ParsePolicy(%q) = %+v, want error", tc.text, got)
			}
			if got != nil {
				t.Errorf("ParsePolicy returned a policy with error %v", err)
			}
			if !errors.Is(err, ErrPolicySyntax) {
				t.Errorf("error %v is not ErrPolicySyntax", err)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SyntaxError", err)
			}
			if se.Line != tc.line || se.Key != tc.key || !strings.Contains(se.Reason, tc.reason) {
				t.Errorf("error = line %d key %q reason %q; want line %d key %q reason containing %q",
					se.Line, se.Key, se.Reason, tc.line, tc.key, tc.reason)
			}
			if se.Section == "" {
				t.Errorf("error %v names no section", err)
			}
		})
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	tests := []struct{ text, want string }{
		{"version: STSv1\nmode: enforce\nmax_age: 31557601\nmx: a.example\n", `policy line 3: max_age "31557601" exceeds 31557600 (RFC 8461 §3.2)`},
		{"version: STSv1\nmx: a.example\nmax_age: 1\n", `policy: required key "mode" missing (RFC 8461 §3.2)`},
		{"version: STSv1\n\tmode: none\n", `policy line 2: line begins with whitespace; expected "key: value" (RFC 8461 §3.2)`},
	}
	for _, tc := range tests {
		_, err := ParsePolicy([]byte(tc.text))
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParsePolicy(%q) error = %v, want %q", tc.text, err, tc.want)
		}
	}
}

func TestPolicyString(t *testing.T) {
	p := &Policy{
		Version:    "STSv1",
		Mode:       ModeEnforce,
		MaxAge:     604800,
		MX:         []string{"mail.example.com", "*.example.net"},
		Extensions: []Extension{{"x-note", "hi there"}},
	}
	want := "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\nx-note: hi there\r\n"
	if got := p.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := p.MaxAgeDuration().Hours(), 168.0; got != want {
		t.Errorf("MaxAgeDuration() = %vh, want %vh", got, want)
	}
}

// TestPolicyFixtures parses the policies in testdata/policy.
func TestPolicyFixtures(t *testing.T) {
	tests := map[string]struct {
		want    *Policy
		warns   []string
		errLine int
		errKey  string
	}{
		"good.txt":            {want: &Policy{"STSv1", ModeEnforce, 604800, []string{"mail.example.com", "*.example.net", "backupmx.example.com"}, nil}},
		"good-crlf.txt":       {want: &Policy{"STSv1", ModeTesting, 86400, []string{"mx1.example.org", "mx2.example.org"}, nil}, warns: []string{WarnModeTesting}},
		"good-none-noeol.txt": {want: &Policy{"STSv1", ModeNone, 86400, nil, nil}},
		"mixed.txt":           {want: &Policy{"STSv1", ModeEnforce, 1209600, []string{"mx.example.com"}, nil}, warns: []string{WarnMixedLineEndings}},
		"duplicates.txt":      {want: &Policy{"STSv1", ModeEnforce, 1209600, []string{"mx.example.com", "mx2.example.com"}, nil}, warns: []string{WarnDuplicateKey, WarnDuplicateKey}},
		"blank-trailing.txt":  {want: &Policy{"STSv1", ModeEnforce, 1209600, []string{"mx.example.com"}, nil}, warns: []string{WarnBlankLine}},
		"bad-max-age.txt":     {errLine: 4, errKey: "max_age"},
		"bad-mode-case.txt":   {errLine: 2, errKey: "mode"},
		"bad-missing-mx.txt":  {errLine: 0, errKey: "mx"},
		"bad-ulabel.txt":      {errLine: 3, errKey: "mx"},
		"bad-html.txt":        {errLine: 1},
	}
	files, err := filepath.Glob("testdata/policy/*.txt")
	if err != nil || len(files) != len(tests) {
		t.Fatalf("testdata/policy holds %d files (%v), want %d", len(files), err, len(tests))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			tc, ok := tests[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, warns, err := ParsePolicyLint(text)
			if tc.want == nil {
				var se *SyntaxError
				if !errors.As(err, &se) || se.Line != tc.errLine || se.Key != tc.errKey {
					t.Fatalf("error = %v, want a *SyntaxError at line %d key %q", err, tc.errLine, tc.errKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("policy (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.warns, warningCodes(warns), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("warning codes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLintPolicyEveryError: LintPolicy reads past invalid lines and
// reports each (RFC 8461 §3.2), where ParsePolicyLint stops at the first.
func TestLintPolicyEveryError(t *testing.T) {
	for _, tc := range []struct {
		name, policy string
		want         []string // "line:key" of each error, in order
	}{
		{"valid", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n", nil},
		{"each line", "version: STSv2\nmode: Enforce\nmx: *.*.example.com\nmax_age: 99999999999\n",
			[]string{"1:version", "2:mode", "3:mx", "4:max_age"}},
		{"bad lines and missing keys", " version: STSv1\nmx mx.example.com\r\nmode: enforce\n",
			[]string{"1:", "2:", "0:version", "0:max_age", "0:mx"}},
		{"invalid mx is not also missing", "version: STSv1\nmode: enforce\nmx: -bad-\nmax_age: 86400\n", []string{"3:mx"}},
		{"empty", "", []string{"0:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _, errs := LintPolicy([]byte(tc.policy))
			var got []string
			for _, e := range errs {
				got = append(got, fmt.Sprintf("%d:%s", e.Line, e.Key))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("errors %q, want %q (%v)", got, tc.want, errs)
			}
			if (p == nil) != (len(tc.want) > 0) {
				t.Errorf("policy %v with %d errors", p, len(errs))
			}
			_, _, first := ParsePolicyLint([]byte(tc.policy))
			if len(errs) > 0 && first != error(errs[0]) && first.Error() != errs[0].Error() {
				t.Errorf("ParsePolicyLint's error %v is not LintPolicy's first %v", first, errs[0])
			}
		})
	}
}
