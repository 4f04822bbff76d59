package reportstore

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/tlsrpt"
)

func TestRolloutQueriesSQLite(t *testing.T) {
	runRolloutQueries(t, func(t *testing.T) *Store {
		return openURL(t, "sqlite://"+filepath.Join(t.TempDir(), "reports.db"))
	})
}

func TestRolloutQueriesPostgres(t *testing.T) {
	pg := testservers.StartPostgres(t)
	runRolloutQueries(t, func(t *testing.T) *Store { return openURL(t, pg.NewDatabase(t)) })
}

// runRolloutQueries checks the queries of the readiness verdict and the
// audit log on one backend.
func runRolloutQueries(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("Sessions", func(t *testing.T) {
		s := open(t)
		for _, rep := range []*tlsrpt.Report{
			newReport(t, "Google Inc.", "g1", "2026-11-20", "example.com", 100,
				failure(tlsrpt.ResultCertificateExpired, "MX2.example.com", "192.0.2.25", 4)),
			newReport(t, "Google Inc.", "g2", "2026-11-21", "example.com", 0,
				failure(tlsrpt.ResultCertificateExpired, "mx2.example.com", "192.0.2.25", 6),
				failure(tlsrpt.ResultSTARTTLSNotSupported, "mx3.example.com", "192.0.2.26", 1)),
			newReport(t, "Microsoft Corporation", "m1", "2026-11-21", "example.com", 50),
			newReport(t, "Microsoft Corporation", "m2", "2026-11-21", "other.example", 70,
				failure(tlsrpt.ResultCertificateExpired, "mx2.other.example", "192.0.2.27", 2)),
			newReport(t, "Microsoft Corporation", "m3", "2026-11-01", "example.com", 9,
				failure(tlsrpt.ResultCertificateExpired, "mx2.example.com", "192.0.2.25", 9)),
		} {
			mustAdd(t, s, submission(rep), Accepted)
		}
		f := Filter{Domain: "example.com", Since: day(t, "2026-11-10"), Until: day(t, "2026-11-27")}
		orgs, err := s.OrganizationSessions(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		wantOrgs := []OrganizationSessions{
			{Organization: "Google Inc.", Successful: 100, Failed: 11, Reports: 2},
			{Organization: "Microsoft Corporation", Successful: 50, Reports: 1},
		}
		if diff := cmp.Diff(wantOrgs, orgs); diff != "" {
			t.Errorf("OrganizationSessions (-want +got):\n%s", diff)
		}
		groups, err := s.FailureGroups(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		wantGroups := []FailureGroup{
			{MXHost: "mx2.example.com", ResultType: "certificate-expired", Organization: "Google Inc.", Failed: 10, Reports: 2, WithSuccess: 1},
			{MXHost: "mx3.example.com", ResultType: "starttls-not-supported", Organization: "Google Inc.", Failed: 1, Reports: 1},
		}
		if diff := cmp.Diff(wantGroups, groups); diff != "" {
			t.Errorf("FailureGroups (-want +got):\n%s", diff)
		}
	})

	t.Run("AuditLog", func(t *testing.T) {
		s := open(t)
		if _, err := s.AddAudit(ctx, &AuditEntry{Domain: "example.com"}); err == nil {
			t.Error("AddAudit without action succeeded")
		}
		entries := []AuditEntry{
			{Actor: "alice", Domain: "Example.COM.", Action: "promote", OldID: "1", NewID: "2",
				OldPolicy: "version: STSv1\r\nmode: testing\r\n", NewPolicy: "version: STSv1\r\nmode: enforce\r\n",
				Verdict: "ready", Evidence: json.RawMessage(`{"verdict":"ready"}`)},
			{Actor: "bob", Domain: "other.example", Action: "demote", OldID: "5", NewID: "6", Forced: true},
		}
		for i := range entries {
			id, err := s.AddAudit(ctx, &entries[i])
			if err != nil {
				t.Fatal(err)
			}
			entries[i].ID, entries[i].Time = id, testNow
		}
		got, err := s.AuditLog(ctx, "example.com")
		if err != nil {
			t.Fatal(err)
		}
		want := entries[:1]
		want[0].Domain = "example.com"
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("AuditLog(example.com) (-want +got):\n%s", diff)
		}
		all, err := s.AuditLog(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 || string(all[1].Evidence) != "null" || !all[1].Forced {
			t.Errorf("AuditLog() = %+v", all)
		}
	})
}
