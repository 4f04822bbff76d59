package reportstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/tlsrpt"
)

// TestCountsAndDelete runs the tests of counts near math.MaxInt64 and of
// DeleteReport on both backends.
func TestCountsAndDelete(t *testing.T) {
	tests := func(t *testing.T, open opener) {
		t.Run("HugeCounts", func(t *testing.T) { testHugeCounts(t, open(t)) })
		t.Run("DeleteRecounts", func(t *testing.T) { testDeleteRecounts(t, open(t)) })
	}
	t.Run("sqlite", func(t *testing.T) {
		tests(t, func(t *testing.T) *Store { return openURL(t, "sqlite://"+filepath.Join(t.TempDir(), "reports.db")) })
	})
	t.Run("postgres", func(t *testing.T) {
		pg := testservers.StartPostgres(t)
		tests(t, func(t *testing.T) *Store { return openURL(t, pg.NewDatabase(t)) })
	})
}

// testHugeCounts stores reports with counts of math.MaxInt64, as
// tlsrpt.Parse accepted before it refused counts over
// tlsrpt.MaxSessionCount: every query still answers, with sums that
// saturate, and the reports can be deleted.
func testHugeCounts(t *testing.T, s *Store) {
	ctx := context.Background()
	const huge = math.MaxInt64
	var ids []int64
	for _, org := range []string{"Absurd Inc.", "Absurd Ltd."} {
		rep := newReport(t, org, "huge", "2026-11-20", "example.com", huge,
			failure(tlsrpt.ResultCertificateExpired, "mx1.example.com", "192.0.2.25", huge))
		ids = append(ids, mustAdd(t, s, submission(rep), Accepted).ID)
	}
	normal := mustAdd(t, s, submission(newReport(t, "Fine Corp.", "fine", "2026-11-20", "example.com", 5)), Accepted).ID

	check := func(when string) {
		t.Helper()
		for _, f := range []Filter{{}, {Organization: "Absurd Inc."}, {Domain: "example.com"}} {
			days, err := s.DailySummary(ctx, f)
			if err != nil {
				t.Fatalf("%s: DailySummary(%+v): %v", when, f, err)
			}
			if len(days) != 1 || days[0].Failed != huge || days[0].Successful != huge || days[0].Sessions() != huge {
				t.Errorf("%s: DailySummary(%+v) = %+v, want saturated sums", when, f, days)
			}
			doms, err := s.Domains(ctx, f)
			if err != nil {
				t.Fatalf("%s: Domains(%+v): %v", when, f, err)
			}
			if len(doms) != 1 || doms[0].Failed != huge || doms[0].Sessions() != huge {
				t.Errorf("%s: Domains(%+v) = %+v, want saturated sums", when, f, doms)
			}
			for _, by := range Breakdowns {
				fails, err := s.Failures(ctx, f, by, 10)
				if err != nil {
					t.Fatalf("%s: Failures(%+v, %s): %v", when, f, by, err)
				}
				if len(fails) == 0 || fails[0].Failed != huge {
					t.Errorf("%s: Failures(%+v, %s) = %+v, want saturated sums", when, f, by, fails)
				}
			}
		}
		page, err := s.ListReports(ctx, ListOptions{FailuresOnly: true})
		if err != nil || page.Total != 2 || page.Reports[0].Sessions() != huge {
			t.Errorf("%s: ListReports = %+v, %v", when, page, err)
		}
	}
	check("stored")
	if s.Backend() == "sqlite" {
		// SQLite turned the daily sums into floating point when an
		// addition overflowed before they saturated.
		if _, err := s.db.Exec(`UPDATE tlsrpt_domain_day SET successful = 1.8446744073709552e19, failed = 1.8446744073709552e19`); err != nil {
			t.Fatal(err)
		}
		check("with floating-point sums")
	}

	found, err := s.ReportsByReportID(ctx, "huge")
	if err != nil || len(found) != 2 || found[0].ID != ids[0] || found[1].ID != ids[1] {
		t.Fatalf("ReportsByReportID = %+v, %v; want reports %v", found, err, ids)
	}
	for _, id := range ids {
		if err := s.DeleteReport(ctx, id); err != nil {
			t.Fatalf("DeleteReport(%d): %v", id, err)
		}
	}
	if err := s.DeleteReport(ctx, ids[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteReport of a deleted report = %v, want ErrNotFound", err)
	}
	if _, err := s.GetReport(ctx, ids[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetReport of a deleted report = %v, want ErrNotFound", err)
	}
	doms, err := s.Domains(ctx, Filter{})
	if err != nil || len(doms) != 1 || doms[0].Successful != 5 || doms[0].Failed != 0 || doms[0].Reports != 1 || doms[0].Organizations != 1 {
		t.Errorf("Domains after deleting = %+v, %v; want report %d alone", doms, err, normal)
	}
	if v, err := s.Version(ctx); err != nil || v.Count != 1 {
		t.Errorf("Version after deleting = %+v, %v; want 1 report", v, err)
	}
}

// testDeleteRecounts deletes reports at random among many, while other
// reports of the same domains and days are added, and checks that the
// rollup still answers as the policy results do.
func testDeleteRecounts(t *testing.T, s *Store) {
	ctx := context.Background()
	testRollup(t, s)
	page, err := s.ListReports(ctx, ListOptions{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 100 {
			rep := newReport(t, "Adder Inc.", fmt.Sprint("add", i), fmt.Sprintf("2026-11-%02d", 10+i%8),
				[]string{"a.example", "b.example", "c.example", "d.example"}[i%4], int64(i),
				failure(tlsrpt.ResultCertificateExpired, "mx1.example", "192.0.2.25", int64(i%3)))
			if _, err := s.Add(ctx, submission(rep)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	rng := rand.New(rand.NewPCG(8, 6))
	for _, r := range page.Reports {
		if rng.IntN(3) != 0 {
			continue
		}
		if err := s.DeleteReport(ctx, r.ID); err != nil {
			t.Errorf("DeleteReport(%d): %v", r.ID, err)
			break
		}
	}
	wg.Wait()
	checkRollup(t, s, "after deleting")
}
