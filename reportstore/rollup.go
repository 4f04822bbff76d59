package reportstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"

	"github.com/mtasts/mtasts/tlsrpt"
)

// The rollup: sums per policy domain and day, kept in the transaction
// that stores the reports, so that the overview of every domain reads a
// row per domain and day instead of every policy result of the period.
//
//	tlsrpt_domain_day      sessions, reports and the latest policy per domain and day
//	tlsrpt_domain_org_day  which organisations reported on a domain on a day
//	tlsrpt_domain_org      which organisations ever reported on a domain
//
// The rollup answers filters by domain and day; a filter by organisation
// reads the policy results.

// policyRow is a stored policy result, as the rollup counts it.
type policyRow struct {
	ref                int64 // report ID
	idx                int   // index in the report's policies
	org, day, domain   string
	policyType, mode   string
	successful, failed int64
}

// policyPick is the policy result that names the policy of a domain: of
// the results of its latest day, the latest stored that states a mode
// (senders that leave policy-string out should not hide it), else the
// latest stored.
type policyPick struct {
	policyType, mode string
	ref              int64
	idx              int
}

// after reports whether p wins over q as the pick.
func (p policyPick) after(q policyPick) bool {
	if (p.mode != "") != (q.mode != "") {
		return p.mode != ""
	}
	return cmp.Or(cmp.Compare(p.ref, q.ref), cmp.Compare(p.idx, q.idx)) > 0
}

type domainDayKey struct{ domain, day string }

type dayTotals struct {
	sessions tlsrpt.Summary
	reports  int64
	latest   policyPick
}

type orgDayKey struct{ domain, org, day string }

// rollup collects what the reports of a transaction add to the rollup
// tables; flushRollup writes it. Adding is commutative, so that
// transactions may write their sums in any order.
type rollup struct {
	days    map[domainDayKey]*dayTotals
	orgDays map[orgDayKey]struct{}
}

func newRollup() *rollup {
	return &rollup{days: map[domainDayKey]*dayTotals{}, orgDays: map[orgDayKey]struct{}{}}
}

// addReport counts the policy results of one report.
func (r *rollup) addReport(rows []policyRow) {
	var seen map[string]bool // domains counted, for reports with several policies
	for i, p := range rows {
		k := domainDayKey{p.domain, p.day}
		t := r.days[k]
		if t == nil {
			t = &dayTotals{}
			r.days[k] = t
		}
		t.sessions = t.sessions.Add(tlsrpt.Summary{Successful: p.successful, Failed: p.failed})
		if i > 0 && seen == nil {
			seen = map[string]bool{rows[0].domain: true}
		}
		if !seen[p.domain] {
			t.reports++ // a report counts once per domain
			if seen != nil {
				seen[p.domain] = true
			}
		}
		if pick := (policyPick{p.policyType, p.mode, p.ref, p.idx}); pick.after(t.latest) {
			t.latest = pick
		}
		r.orgDays[orgDayKey{p.domain, p.org, p.day}] = struct{}{}
	}
}

// flushRollup adds r to the rollup tables, in key order so that
// concurrent transactions on PostgreSQL lock rows in the same order.
func (s *Store) flushRollup(ctx context.Context, tx *writeTx, r *rollup) error {
	days := slices.SortedFunc(maps.Keys(r.days), func(a, b domainDayKey) int {
		return cmp.Or(cmp.Compare(a.domain, b.domain), cmp.Compare(a.day, b.day))
	})
	rows := make([][]any, len(days))
	for i, k := range days {
		t := r.days[k]
		rows[i] = []any{k.domain, k.day, t.sessions.Successful, t.sessions.Failed, t.reports, t.latest.policyType, t.latest.mode, t.latest.ref, t.latest.idx}
	}
	set := `successful = ` + addSaturating("successful") + `, failed = ` + addSaturating("failed") + `, reports = d.reports + excluded.reports`
	for _, col := range []string{"policy_type", "mode", "latest_ref", "latest_idx"} {
		// The pick, compared as policyPick.after does.
		set += fmt.Sprintf(`, %[1]s = CASE WHEN (excluded.mode <> '', excluded.latest_ref, excluded.latest_idx) >
			(d.mode <> '', d.latest_ref, d.latest_idx) THEN excluded.%[1]s ELSE d.%[1]s END`, col)
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO tlsrpt_domain_day AS d (policy_domain, day, successful, failed, reports,
		policy_type, mode, latest_ref, latest_idx) VALUES `, ` ON CONFLICT (policy_domain, day) DO UPDATE SET `+set, 9, rows); err != nil {
		return s.err("adding to the daily sums", err)
	}
	orgDays := slices.SortedFunc(maps.Keys(r.orgDays), func(a, b orgDayKey) int {
		return cmp.Or(cmp.Compare(a.domain, b.domain), cmp.Compare(a.org, b.org), cmp.Compare(a.day, b.day))
	})
	rows = rows[:0]
	var orgs [][]any
	for i, k := range orgDays {
		rows = append(rows, []any{k.domain, k.org, k.day})
		if i == 0 || k.domain != orgDays[i-1].domain || k.org != orgDays[i-1].org {
			orgs = append(orgs, []any{k.domain, k.org})
		}
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO tlsrpt_domain_org_day (policy_domain, organization, day) VALUES `,
		` ON CONFLICT DO NOTHING`, 3, rows); err != nil {
		return s.err("adding to the daily organisations", err)
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO tlsrpt_domain_org (policy_domain, organization) VALUES `,
		` ON CONFLICT DO NOTHING`, 2, orgs); err != nil {
		return s.err("adding to the organisations", err)
	}
	return nil
}

// backfillChunk is how many report IDs backfillRollup reads at a time (a
// variable for the tests).
var backfillChunk int64 = 20000

// backfillRollup fills the rollup tables from the stored policy results:
// migration 2, which created them.
func (s *Store) backfillRollup(ctx context.Context, tx *writeTx) error {
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(report_ref), 0) FROM tlsrpt_policy`).Scan(&last); err != nil {
		return s.err("filling the daily sums", err)
	}
	for from := int64(0); from < last; from += backfillChunk {
		r := newRollup()
		if err := s.rollupPolicies(ctx, tx, r, `report_ref > $1 AND report_ref <= $2`, from, from+backfillChunk); err != nil {
			return err
		}
		if err := s.flushRollup(ctx, tx, r); err != nil {
			return err
		}
	}
	return nil
}

// rollupPolicies adds to r the stored policy results that cond selects,
// a condition on tlsrpt_policy with args.
func (s *Store) rollupPolicies(ctx context.Context, tx *writeTx, r *rollup, cond string, args ...any) error {
	const op = "counting the daily sums"
	rows, err := tx.QueryContext(ctx, `SELECT report_ref, idx, organization, day, policy_domain, policy_type, mode, successful, failed
		FROM tlsrpt_policy WHERE `+cond+` ORDER BY report_ref, idx`, args...)
	if err != nil {
		return s.err(op, err)
	}
	defer rows.Close()
	var report []policyRow
	for rows.Next() {
		var p policyRow
		if err := rows.Scan(&p.ref, &p.idx, &p.org, &p.day, &p.domain, &p.policyType, &p.mode, count(&p.successful), count(&p.failed)); err != nil {
			return s.err(op, err)
		}
		if len(report) > 0 && report[0].ref != p.ref {
			r.addReport(report)
			report = report[:0]
		}
		report = append(report, p)
	}
	if err := s.rowsErr(op, rows); err != nil {
		return err
	}
	r.addReport(report)
	return nil
}

// rollupDays reads the daily sums f selects (f.Organization must be ""),
// ordered by domain and day.
func (s *Store) rollupDays(ctx context.Context, f Filter) ([]DaySummary, error) {
	const op = "daily sums"
	var args []any
	rows, err := s.rdb.QueryContext(ctx, `SELECT policy_domain, day, successful, failed, reports
		FROM tlsrpt_domain_day WHERE `+f.where("", &args)+` ORDER BY policy_domain, day`, args...)
	return s.scanDays(rows, err, op)
}

// scanDays reads the days of a query of domains, days, successful and
// failed sessions and reports, the result of QueryContext.
func (s *Store) scanDays(rows *sql.Rows, err error, op string) ([]DaySummary, error) {
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	out := []DaySummary{}
	for rows.Next() {
		var d DaySummary
		if err := rows.Scan(&d.Domain, &d.Day, count(&d.Successful), count(&d.Failed), &d.Reports); err != nil {
			return nil, s.err(op, err)
		}
		out = append(out, d)
	}
	return out, s.rowsErr(op, rows)
}

// rollupLatest reads the policy of each domain f selects (f.Organization
// must be "") from the daily sums of its latest day.
func (s *Store) rollupLatest(ctx context.Context, f Filter) (map[string]policyPick, error) {
	var args []any
	return s.latestPicks(ctx, `SELECT d.policy_domain, d.policy_type, d.mode, d.latest_ref, d.latest_idx
		FROM tlsrpt_domain_day d JOIN (
			SELECT policy_domain, MAX(day) AS last FROM tlsrpt_domain_day WHERE `+f.where("", &args)+` GROUP BY policy_domain
		) m ON d.policy_domain = m.policy_domain AND d.day = m.last`, args)
}

// rollupOrganizations counts the organisations that reported on each
// domain f selects (f.Organization must be ""): one lookup per domain and
// organisation rather than a scan of the period.
func (s *Store) rollupOrganizations(ctx context.Context, f Filter) (map[string]int, error) {
	var args []any
	cond := Filter{Domain: f.Domain}.where("p.", &args)
	dayCond := Filter{Since: f.Since, Until: f.Until}.where("o.", &args)
	return s.domainCounts(ctx, "organisations", `SELECT p.policy_domain, COUNT(*) FROM tlsrpt_domain_org p
		WHERE `+cond+` AND EXISTS (SELECT 1 FROM tlsrpt_domain_org_day o
			WHERE o.policy_domain = p.policy_domain AND o.organization = p.organization AND `+dayCond+`)
		GROUP BY p.policy_domain`, args)
}
