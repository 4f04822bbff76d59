package testenv

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// CheckMetrics scrapes the Prometheus metrics at url and fails t for each
// metric that docs/metrics.md lists under the heading "## section" and
// the scrape lacks, and for each mtasts_ metric of the scrape that
// docs/metrics.md does not list at all.
func CheckMetrics(t testing.TB, url, section string) {
	t.Helper()
	documented, all := documentedMetrics(t, section)
	exposed := ExposedMetrics(t, url)
	for name := range exposed {
		if strings.HasPrefix(name, "mtasts_") && !all[name] {
			t.Errorf("%s is exposed but not documented in docs/metrics.md", name)
		}
	}
	for _, name := range documented {
		if _, ok := exposed[name]; !ok {
			t.Errorf("%s, documented in docs/metrics.md under %q, is not exposed", name, section)
		}
	}
}

// ExposedMetrics scrapes the Prometheus metrics at url and returns the
// type of each metric it exposes ("counter", "gauge", "histogram"…), by
// name.
func ExposedMetrics(t testing.TB, url string) map[string]string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	exposed := map[string]string{}
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(rest, " ")
			exposed[name] = kind
		}
	}
	return exposed
}

// metricRow is a row of a metrics table in docs/metrics.md.
var metricRow = regexp.MustCompile("^\\| `(mtasts_[a-z0-9_]+)` \\|")

// documentedMetrics returns the metrics docs/metrics.md lists under the
// heading "## section", and all that it lists.
func documentedMetrics(t testing.TB, section string) (names []string, all map[string]bool) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	text, err := os.ReadFile(filepath.Join(dir, "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	all = map[string]bool{}
	current := ""
	for _, line := range strings.Split(string(text), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			current = strings.TrimSpace(h)
		}
		if m := metricRow.FindStringSubmatch(line); m != nil {
			all[m[1]] = true
			if current == section {
				names = append(names, m[1])
			}
		}
	}
	if len(names) == 0 {
		t.Fatalf("docs/metrics.md lists no metric under %q", section)
	}
	return names, all
}
