package enforce

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/resolver"
)

// refresh_used_within and drop_unused_after: defaults, "0s" for off
// (a negative setting for the resolver), and no negative values.
func TestRefreshUsageConfig(t *testing.T) {
	noenv := func(string) string { return "" }
	for _, tc := range []struct {
		file           string
		within, drop   time.Duration // as the resolver gets them
		wantErrContain string
	}{
		{"", resolver.DefaultRefreshUsedWithin, resolver.DefaultDropUnusedAfter, ""},
		{"[daemon]\nrefresh_used_within = \"48h\"\ndrop_unused_after = \"0s\"\n", 48 * time.Hour, -1, ""},
		{"[daemon]\nrefresh_used_within = \"0s\"\n", -1, resolver.DefaultDropUnusedAfter, ""},
		{"[daemon]\ndrop_unused_after = \"-1h\"\n", 0, 0, "daemon.drop_unused_after: -1h0m0s: must not be negative"},
	} {
		path := ""
		if tc.file != "" {
			path = testenv.WriteConfig(t, tc.file)
		}
		c, err := Load(path, noenv)
		if tc.wantErrContain != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErrContain) {
				t.Errorf("%q: %v, want %q", tc.file, err, tc.wantErrContain)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if w, d := offIfZero(c.RefreshUsedWithin), offIfZero(c.DropUnusedAfter); w != tc.within || d != tc.drop {
			t.Errorf("%q: resolver gets %v and %v, want %v and %v", tc.file, w, d, tc.within, tc.drop)
		}
	}
}

// The refreshes left out and the policies dropped are counted as
// outcomes of mtasts_refreshes_total.
func TestMetricsUnused(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry())
	m.Unused("a.example", false)
	m.Unused("b.example", true)
	m.Unused("c.example", true)
	for outcome, want := range map[string]float64{"unused": 1, "dropped": 2, "ok": 0} {
		if got := testutil.ToFloat64(m.refreshes.WithLabelValues(outcome)); got != want {
			t.Errorf("mtasts_refreshes_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
}
