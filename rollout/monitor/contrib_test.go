package monitor

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/internal/testenv/testservers"
)

// checkMetricsAndContrib serves reg over HTTP and checks its metrics
// against docs/metrics.md, and that every query of the shipped alerting
// rules and Grafana dashboard names metrics the scrape has; promtool
// checks the rules.
func checkMetricsAndContrib(t *testing.T, reg *prometheus.Registry) {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	testenv.CheckMetrics(t, srv.URL, "monitor")

	exposed := map[string]bool{}
	for name, kind := range testenv.ExposedMetrics(t, srv.URL) {
		exposed[name] = true
		if kind == "histogram" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				exposed[name+suffix] = true
			}
		}
	}

	rules := filepath.Join("..", "..", "contrib", "prometheus", "alerts.yml")
	data, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	checkNames(t, rules, string(data), exposed)
	var exprs []string
	dash := filepath.Join("..", "..", "contrib", "grafana", "mtasts-monitor.json")
	data, err = os.ReadFile(dash)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dash, err)
	}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", dash, p.Title)
		}
		for _, tg := range p.Targets {
			if !metricName.MatchString(tg.Expr) {
				t.Errorf("%s: panel %q: query %q names no mtasts metric", dash, p.Title, tg.Expr)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	checkNames(t, dash, strings.Join(exprs, "\n"), exposed)

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		testservers.Unavailable(t, "promtool not found; install it with `apt-get install -y prometheus` to check contrib/prometheus/alerts.yml")
	}
	if out, err := exec.Command(promtool, "check", "rules", rules).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules %s: %v\n%s", rules, err, out)
	}
}

var metricName = regexp.MustCompile(`mtasts_[a-z0-9_]+`)

// checkNames fails t for each mtasts metric text names that exposed lacks.
func checkNames(t *testing.T, file, text string, exposed map[string]bool) {
	t.Helper()
	for _, name := range metricName.FindAllString(text, -1) {
		if !exposed[name] {
			t.Errorf("%s names %s, which the monitor does not export", file, name)
		}
	}
}
