package reportstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mtasts/mtasts/tlsrpt"
)

// testRollup stores random reports, with duplicates, several policies per
// report and policies without a mode, and checks that the rollup answers
// as the policy results do, after the inserts and after migration 2
// filled it from the policy results.
func testRollup(t *testing.T, s *Store) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(6, 8))
	orgs := []string{"Google Inc.", "Microsoft Corporation", "AT&T \"Mail\""}
	domains := []string{"a.example", "b.example", "c.example", "d.example"}
	var subs []*Submission
	for i := range 300 {
		date := fmt.Sprintf("2026-11-%02d", 10+rng.IntN(8))
		rep := newReport(t, orgs[rng.IntN(len(orgs))], fmt.Sprint("r", i), date, domains[rng.IntN(len(domains))], int64(rng.IntN(100)))
		for range rng.IntN(3) {
			p := rep.Policies[0]
			p.Policy.Domain = domains[rng.IntN(len(domains))]
			switch rng.IntN(3) {
			case 0:
				p.Policy = tlsrpt.Policy{Type: tlsrpt.PolicyNoPolicyFound, Domain: p.Policy.Domain}
			case 1:
				p.Policy.Strings = []string{"version: STSv1", fmt.Sprintf("mode: m%d", rng.IntN(3))}
			}
			p.Summary = tlsrpt.Summary{Successful: int64(rng.IntN(50)), Failed: int64(rng.IntN(5))}
			rep.Policies = append(rep.Policies, p)
		}
		subs = append(subs, submission(rep))
		if rng.IntN(10) == 0 {
			subs = append(subs, subs[rng.IntN(len(subs))]) // a duplicate
		}
	}
	for len(subs) > 0 {
		n := min(len(subs), 1+rng.IntN(40))
		for _, r := range s.AddBatch(ctx, subs[:n]) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		subs = subs[n:]
	}

	checkRollup(t, s, "after adding")

	// Back to schema version 1 (undoing the later migrations too), and up
	// again in chunks of 7 reports.
	for _, q := range []string{`DROP TABLE tlsrpt_domain_day`, `DROP TABLE tlsrpt_domain_org_day`, `DROP TABLE tlsrpt_domain_org`,
		`DROP INDEX tlsrpt_quarantine_evict`, `ALTER TABLE tlsrpt_quarantine DROP COLUMN stored`, `ALTER TABLE tlsrpt_quarantine DROP COLUMN report_like`,
		`DROP TABLE tlsrpt_rollout_audit`, `DELETE FROM tlsrpt_schema WHERE version >= 2`} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	defer func(n int64) { backfillChunk = n }(backfillChunk)
	backfillChunk = 7
	if err := s.migrate(ctx); err != nil {
		t.Fatal(err)
	}
	checkRollup(t, s, "after migration 2")
}

// checkRollup checks that the rollup answers as the policy results do.
func checkRollup(t *testing.T, s *Store, when string) {
	t.Helper()
	ctx := context.Background()
	for _, f := range []Filter{
		{},
		{Domain: "B.example."},
		{Since: day(t, "2026-11-12")},
		{Since: day(t, "2026-11-11"), Until: day(t, "2026-11-14")},
		{Domain: "c.example", Until: day(t, "2026-11-16")},
		{Domain: "none.example"},
	} {
		days, err := s.DailySummary(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.policyDailySummary(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, days); diff != "" {
			t.Errorf("%s: DailySummary(%+v) (-policies +rollup):\n%s", when, f, diff)
		}
		doms, err := s.Domains(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		days, orgs, latest, err := s.policyDomains(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(overviews(days, orgs, latest), doms); diff != "" {
			t.Errorf("%s: Domains(%+v) (-policies +rollup):\n%s", when, f, diff)
		}
	}
}
