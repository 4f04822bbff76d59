package check

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/sts"
)

var update = flag.Bool("update", false, "rewrite docs/findings.md from the catalogue")

// findingsDoc is docs/findings.md, relative to this package.
var findingsDoc = filepath.Join("..", "docs", "findings.md")

// TestFindingsDoc keeps docs/findings.md equal to the catalogue. Run
// "go generate ./check" (or go test ./check -run TestFindingsDoc -update)
// after changing the catalogue.
func TestFindingsDoc(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFindingsDoc(&b); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(findingsDoc, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(findingsDoc)
	if err != nil {
		t.Fatalf("%v; run go generate ./check", err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Errorf("%s is out of date with the catalogue; run go generate ./check", findingsDoc)
	}
	for _, d := range catalogue {
		if !bytes.Contains(have, []byte("`"+string(d.Code)+"`")) {
			t.Errorf("%s does not document %s", findingsDoc, d.Code)
		}
	}
}

var kebab = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// TestCatalogue checks that every definition is complete.
func TestCatalogue(t *testing.T) {
	for _, d := range Catalogue() {
		switch {
		case !kebab.MatchString(string(d.Code)):
			t.Errorf("%s: not kebab-case", d.Code)
		case d.Severity != SeverityError && d.Severity != SeverityWarning && d.Severity != SeverityInfo:
			t.Errorf("%s: severity %q", d.Code, d.Severity)
		case !strings.HasPrefix(d.RFC, "RFC "):
			t.Errorf("%s: RFC %q", d.Code, d.RFC)
		case !strings.HasSuffix(d.Meaning, ".") || !strings.HasSuffix(d.Fix, "."):
			t.Errorf("%s: meaning and fix must be sentences", d.Code)
		case d.Blocks && d.Severity != SeverityError:
			t.Errorf("%s: blocks delivery but is not an error", d.Code)
		case d.Area.Title() == string(d.Area):
			t.Errorf("%s: unknown area %q", d.Code, d.Area)
		}
	}
}

// TestWarningFallback: every warning of the policy parser has a code of its
// own, and one the checker does not know yet is still reported.
func TestWarningFallback(t *testing.T) {
	for _, w := range []string{sts.WarnMaxAgeShort, sts.WarnModeTesting, sts.WarnMixedLineEndings, sts.WarnDuplicateKey,
		sts.WarnMXIPAddress, sts.WarnMXTrailingDot, sts.WarnPolicyLarge, sts.WarnModeNoneMX, sts.WarnUnknownKey,
		sts.WarnBlankLine, sts.WarnVersionNotFirst} {
		if _, ok := lintCodes[w]; !ok {
			t.Errorf("parser warning %s has no finding code", w)
		}
	}
	f, ok := warningFinding("https://mta-sts.example.com/.well-known/mta-sts.txt", sts.Warning{Line: 2, Code: "brand-new", Message: "something new", Section: "RFC 8461 §3.2"})
	if !ok || f.Code != policyWarning || f.Message != "line 2: something new [brand-new]" {
		t.Errorf("fallback: %+v", f)
	}
}

// TestDays checks the day arithmetic of expiry messages.
func TestDays(t *testing.T) {
	for _, tc := range []struct {
		hours float64
		days  int
		text  string
	}{
		{0.5, 0, "today"}, {-0.5, 0, "today"}, {25, 1, "tomorrow"}, {-25, -1, "yesterday"},
		{24 * 89.9, 89, "in 89 days"}, {-24 * 3.5, -3, "3 days ago"},
	} {
		now := testClock()
		at := now.Add(hours(tc.hours))
		if d := daysLeft(at, now); d != tc.days || inDays(d) != tc.text {
			t.Errorf("%v hours: %d %q, want %d %q", tc.hours, d, inDays(d), tc.days, tc.text)
		}
	}
}
