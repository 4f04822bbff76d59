package reportstore

import (
	"context"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mtasts/mtasts/tlsrpt"
)

// testQueries stores a small known set of reports and checks every query.
func testQueries(t *testing.T, s *Store) {
	ctx := context.Background()
	g, m := "Google Inc.", "Microsoft Corporation"
	for _, rep := range []*tlsrpt.Report{
		newReport(t, g, "g18", "2026-11-18", "example.com", 100, failure(tlsrpt.ResultCertificateExpired, "mx1.example.com", "192.0.2.25", 5)),
		newReport(t, m, "m18", "2026-11-18", "Example.com.", 50, failure(tlsrpt.ResultSTARTTLSNotSupported, "MX2.example.com.", "192.0.2.26", 2)),
		newReport(t, g, "g19", "2026-11-19", "example.com", 200),
		newReport(t, g, "g20", "2026-11-20", "example.com", 90, failure(tlsrpt.ResultCertificateExpired, "mx1.example.com", "192.0.2.25", 10)),
		newReport(t, m, "m19", "2026-11-19", "example.org", 10, failure(tlsrpt.ResultSTSPolicyFetchError, "mx1.example.org", "192.0.2.99", 1)),
	} {
		mustAdd(t, s, submission(rep), Accepted)
	}

	days, err := s.DailySummary(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	wantDays := []DaySummary{
		{Domain: "example.com", Day: "2026-11-18", Successful: 150, Failed: 7, Reports: 2},
		{Domain: "example.com", Day: "2026-11-19", Successful: 200, Reports: 1},
		{Domain: "example.com", Day: "2026-11-20", Successful: 90, Failed: 10, Reports: 1},
		{Domain: "example.org", Day: "2026-11-19", Successful: 10, Failed: 1, Reports: 1},
	}
	if diff := cmp.Diff(wantDays, days); diff != "" {
		t.Errorf("DailySummary (-want +got):\n%s", diff)
	}
	days, err = s.DailySummary(ctx, Filter{Since: day(t, "2026-11-19").Add(5), Until: day(t, "2026-11-20").Add(7)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]DaySummary{wantDays[1], wantDays[3]}, days); diff != "" {
		t.Errorf("DailySummary of 2026-11-19 (-want +got):\n%s", diff)
	}

	for _, c := range []struct {
		f    Filter
		by   Breakdown
		want []FailureCount
	}{
		{Filter{}, ByResultType, []FailureCount{{"certificate-expired", 15, 2}, {"starttls-not-supported", 2, 1}, {"sts-policy-fetch-error", 1, 1}}},
		{Filter{Domain: "EXAMPLE.com"}, ByOrganization, []FailureCount{{g, 15, 2}, {m, 2, 1}}},
		{Filter{Domain: "example.com"}, ByMXHost, []FailureCount{{"mx1.example.com", 15, 2}, {"mx2.example.com", 2, 1}}},
		{Filter{Organization: m}, ByReceivingIP, []FailureCount{{"192.0.2.26", 2, 1}, {"192.0.2.99", 1, 1}}},
		{Filter{}, BySendingIP, []FailureCount{{"192.0.2.7", 18, 4}}},
		{Filter{}, ByDomain, []FailureCount{{"example.com", 17, 3}, {"example.org", 1, 1}}},
		{Filter{Domain: "example.com"}, ByDay, []FailureCount{{"2026-11-20", 10, 1}, {"2026-11-18", 7, 2}}},
		{Filter{Since: day(t, "2026-11-21")}, ByResultType, []FailureCount{}},
	} {
		got, err := s.Failures(ctx, c.f, c.by, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("Failures(%+v, %s) (-want +got):\n%s", c.f, c.by, diff)
		}
	}
	if top, err := s.Failures(ctx, Filter{}, ByResultType, 1); err != nil || len(top) != 1 {
		t.Errorf("Failures with limit 1 = %+v, %v", top, err)
	}
	if _, err := s.Failures(ctx, Filter{}, "colour", 0); err == nil {
		t.Error("Failures by an unknown breakdown did not fail")
	}

	doms, err := s.Domains(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(doms) != 2 {
		t.Fatalf("Domains = %+v", doms)
	}
	com := doms[0]
	wantTrend := 90.0/100 - 150.0/157
	if com.Domain != "example.com" || com.Successful != 440 || com.Failed != 17 || com.Reports != 4 || com.Organizations != 2 ||
		len(com.Days) != 3 || com.LastDay != "2026-11-20" || com.PolicyType != tlsrpt.PolicySTS || com.Mode != "testing" ||
		math.Abs(com.Trend-wantTrend) > 1e-9 {
		t.Errorf("example.com overview = %+v", com)
	}
	if doms[1].Domain != "example.org" || doms[1].Trend != 0 || doms[1].Reports != 1 {
		t.Errorf("example.org overview = %+v", doms[1])
	}

	page, err := s.ListReports(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range page.Reports {
		ids = append(ids, r.ReportID)
	}
	if diff := cmp.Diff([]string{"g20", "m19", "g19", "m18", "g18"}, ids); diff != "" || page.Total != 5 {
		t.Errorf("ListReports order (total %d) (-want +got):\n%s", page.Total, diff)
	}
	for _, c := range []struct {
		o    ListOptions
		want []string
		tot  int
	}{
		{ListOptions{Filter: Filter{Domain: "example.com"}, FailuresOnly: true}, []string{"g20", "m18", "g18"}, 3},
		{ListOptions{FailuresOnly: true, Limit: 2, Offset: 1}, []string{"m19", "m18"}, 4},
		{ListOptions{Filter: Filter{Organization: m}}, []string{"m19", "m18"}, 2},
		{ListOptions{Filter: Filter{Domain: "example.org", Since: day(t, "2026-11-20")}}, nil, 0},
	} {
		page, err := s.ListReports(ctx, c.o)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range page.Reports {
			got = append(got, r.ReportID)
		}
		if diff := cmp.Diff(c.want, got); diff != "" || page.Total != c.tot {
			t.Errorf("ListReports(%+v): total %d, want %d (-want +got):\n%s", c.o, page.Total, c.tot, diff)
		}
	}
	if r := page.Reports[0]; r.Domains[0] != "example.com" || r.SuccessRate() != 0.9 {
		t.Errorf("first report %+v", r)
	}
}

// installPoison makes the database refuse failure details of result type
// "poison", as a full disk or a broken connection would refuse a write.
func installPoison(t *testing.T, s *Store) {
	t.Helper()
	stmts := []string{`CREATE TRIGGER poison BEFORE INSERT ON tlsrpt_failure WHEN NEW.result_type = 'poison'
		BEGIN SELECT RAISE(ABORT, 'injected failure'); END`}
	if s.Backend() == "postgres" {
		stmts = []string{
			`CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN
				IF NEW.result_type = 'poison' THEN RAISE EXCEPTION 'injected failure'; END IF;
				RETURN NEW; END $$ LANGUAGE plpgsql`,
			`CREATE TRIGGER poison BEFORE INSERT ON tlsrpt_failure FOR EACH ROW EXECUTE FUNCTION poison()`,
		}
	}
	for _, q := range stmts {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}
