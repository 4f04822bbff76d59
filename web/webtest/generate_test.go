package webtest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mtasts/mtasts/tlsrpt"
)

func collect(t *testing.T, o Options) []*tlsrpt.Report {
	t.Helper()
	var out []*tlsrpt.Report
	if err := Generate(o, func(r *tlsrpt.Report) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGenerate(t *testing.T) {
	end := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	o := Options{Reports: 2000, Domains: 10, End: end, Seed: 3}
	reps := collect(t, o)
	if len(reps) != 2000 {
		t.Fatalf("%d reports", len(reps))
	}
	if diff := cmp.Diff(reps, collect(t, o), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("the same options gave other reports:\n%s", diff)
	}
	ids := map[string]bool{}
	var failed, total int64
	for _, r := range reps {
		key := r.OrganizationName + "/" + r.ReportID
		if ids[key] {
			t.Errorf("report %s twice", key)
		}
		ids[key] = true
		if day, ok := r.DateRange.Day(); !ok || day.After(end) || day.Before(end.AddDate(0, 0, -30)) {
			t.Errorf("report %s covers %v", key, r.DateRange)
		}
		for _, p := range r.Policies {
			var sum int64
			for _, f := range p.FailureDetails {
				sum += f.FailedSessionCount
			}
			if sum != p.Summary.Failed || p.Summary.Successful < 0 {
				t.Errorf("report %s: summary %+v, failure details count %d", key, p.Summary, sum)
			}
		}
		totals := r.Totals()
		failed += totals.Failed
		total += totals.Successful + totals.Failed
	}
	// Mostly successful, with troubles to show.
	if rate := float64(failed) / float64(total); rate < 0.001 || rate > 0.2 {
		t.Errorf("failure rate %.4f", rate)
	}
	if raw, err := tlsrpt.Render(reps[0]); err != nil || len(raw) < 300 {
		t.Errorf("Render: %d bytes, %v", len(raw), err)
	}
}
