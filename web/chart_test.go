package web

import (
	"encoding/xml"
	"flag"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// chartDays is a fortnight with a quiet start, a gap, and an incident.
func chartDays() []reportstore.DaySummary {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	stored := []reportstore.DaySummary{
		{Day: "2026-11-03", Successful: 1200, Reports: 3},
		{Day: "2026-11-04", Successful: 1350, Failed: 2, Reports: 3},
		{Day: "2026-11-06", Successful: 1100, Reports: 4},
		{Day: "2026-11-07", Successful: 900, Failed: 450, Reports: 4},
		{Day: "2026-11-08", Successful: 950, Failed: 380, Reports: 4},
		{Day: "2026-11-09", Successful: 1400, Failed: 1, Reports: 5},
		{Day: "2026-11-14", Successful: 1500, Reports: 5},
	}
	return dailySeries(stored, from, 14)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got template.HTML) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(strings.TrimSuffix(string(want), "\n"), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", name, diff)
	}
}

// svgElements parses an SVG and counts its elements by name.
func svgElements(t *testing.T, svg template.HTML) map[string]int {
	t.Helper()
	counts := map[string]int{}
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return counts
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			counts[se.Name.Local]++
		}
	}
}

func TestSessionsChart(t *testing.T) {
	svg := sessionsChart(chartDays(), func(day string) string { return "/d/reports?since=" + day + "&x=<y>" })
	golden(t, "sessions.svg", svg)
	got := svgElements(t, svg)
	// Seven days with sessions: seven links, seven ok bars, five failed
	// bars; four grid lines (0 to 1500 in steps of 500) and the axis.
	want := map[string]int{"svg": 1, "a": 7, "g": 7, "title": 7, "rect": 11, "line": 5, "text": 4 + 7}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("elements (-want +got):\n%s", diff)
	}
	for _, s := range []string{
		`<title>2026-11-07: 900 successful, 450 failed (66.7% success) in 4 report(s)</title>`,
		`href="/d/reports?since=2026-11-07&amp;x=&lt;y&gt;"`,
		`>1.5k</text>`,
	} {
		if !strings.Contains(string(svg), s) {
			t.Errorf("chart lacks %s", s)
		}
	}
}

func TestFailureRateChart(t *testing.T) {
	svg := failureRateChart(chartDays(), nil)
	golden(t, "failure-rate.svg", svg)
	got := svgElements(t, svg)
	// Bars only for days with failures; axis up to 40% in steps of 10.
	if got["rect"] != 4 || got["a"] != 0 || got["line"] != 6 {
		t.Errorf("elements %v", got)
	}
	if !strings.Contains(string(svg), `>40%</text>`) || !strings.Contains(string(svg), "2026-11-04: 0.1% of 1,352 sessions failed") {
		t.Errorf("failure rate chart:\n%s", svg)
	}
}

func TestSparkline(t *testing.T) {
	svg := sparkline(chartDays())
	golden(t, "sparkline.svg", svg)
	if got := svgElements(t, svg); got["polyline"] != 1 || got["circle"] != 1 {
		t.Errorf("elements %v", got)
	}
	// The latest day succeeded entirely: not marked bad, though a day
	// was; the scale starts at 65%, below the worst day (66.7%).
	if s := string(svg); !strings.Contains(s, `class="spark"`) || !strings.Contains(s, "lowest 66.7%, latest 100% (2026-11-14); scale 65.0% to 100%") {
		t.Errorf("sparkline:\n%s", svg)
	}
	if svg := sparkline(dailySeries(nil, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 30)); svg != "" {
		t.Errorf("sparkline without sessions = %s", svg)
	}
	one := []reportstore.DaySummary{{Day: "2026-11-01", Successful: 5, Failed: 5}}
	if s := string(sparkline(one)); !strings.Contains(s, `class="spark spark-bad"`) || !strings.Contains(s, `<circle cx="60.0"`) {
		t.Errorf("sparkline of one bad day:\n%s", s)
	}
}

func TestEmptyChart(t *testing.T) {
	svg := sessionsChart(dailySeries(nil, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 7), nil)
	if got := svgElements(t, svg); got["rect"] != 0 || got["line"] != 3 {
		t.Errorf("chart without sessions: %v\n%s", got, svg)
	}
}

func TestNiceScale(t *testing.T) {
	for _, c := range []struct{ max, top, step float64 }{
		{0, 1, 1}, {1, 1, 0.5}, {3, 3, 1}, {7, 8, 2}, {1350, 1500, 500}, {1850, 2000, 500},
		{45.5, 60, 20}, {0.3, 0.3, 0.1}, {0.07, 0.08, 0.02}, {99999, 100000, 50000}, {2.5e6, 3e6, 1e6},
	} {
		top, step := niceScale(c.max)
		if top != c.top || step != c.step {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", c.max, top, step, c.top, c.step)
		}
	}
}

func TestDayLabels(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	count := func(n int) (labelled []string) {
		for _, l := range dayLabels(dailySeries(nil, from, n)) {
			if l != "" {
				labelled = append(labelled, l)
			}
		}
		return labelled
	}
	if got := count(7); len(got) != 7 || got[0] != "Jan 1" {
		t.Errorf("a week: %q", got)
	}
	if got := count(30); len(got) != 6 || got[len(got)-1] != "Jan 30" {
		t.Errorf("a month: %q", got)
	}
	if got := count(365); len(got) != 12 || got[0] != "Jan 2026" || got[1] != "Feb" {
		t.Errorf("a year: %q", got)
	}
}

func TestFormats(t *testing.T) {
	for rate, want := range map[float64]string{
		1: "100%", 0: "0%", 0.5: "50.0%", 0.99996: "99.996%", 0.999996: "99.999%", 0.9999999: "99.999%",
		0.0004: "0.04%", 1e-9: "0.001%", 0.6666: "66.7%",
	} {
		if got := percent(rate); got != want {
			t.Errorf("percent(%v) = %q, want %q", rate, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4200: "-4,200"} {
		if got := formatCount(n); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", n, got, want)
		}
	}
	for v, want := range map[float64]string{0: "0", 500: "500", 1500: "1.5k", 2e6: "2M", 0.5: "0.5"} {
		if got := compactNumber(v); got != want {
			t.Errorf("compactNumber(%v) = %q, want %q", v, got, want)
		}
	}
	for in, want := range map[string]template.HTML{
		"run `mtasts check <d>` now": "run <code>mtasts check &lt;d&gt;</code> now",
		"a `b` c `d":                 "a <code>b</code> c `d",
		"plain & simple":             "plain &amp; simple",
	} {
		if got := richText(in); got != want {
			t.Errorf("richText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEveryResultTypeIsExplained(t *testing.T) {
	for _, rt := range tlsrpt.ResultTypes {
		e, ok := explanations[rt]
		if !ok || e.Title == "" || e.Meaning == "" || e.Fix == "" || !strings.HasPrefix(e.Section, "RFC 8460 §4.3") {
			t.Errorf("%s: explanation %+v", rt, e)
		}
	}
	if len(explanations) != len(tlsrpt.ResultTypes) {
		t.Errorf("%d explanations for %d result types", len(explanations), len(tlsrpt.ResultTypes))
	}
	if explain("made-up") != unknownResult {
		t.Error("an unknown result type is not explained as such")
	}
}
