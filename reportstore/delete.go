package reportstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mtasts/mtasts/internal/untrusted"
)

// ReportsByReportID lists the stored reports whose "report-id" is
// reportID, oldest stored first: report-id is unique per sending
// organisation only (RFC 8460 §4.4), so there may be several.
func (s *Store) ReportsByReportID(ctx context.Context, reportID string) ([]ReportInfo, error) {
	const op = "finding reports by report-id"
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+infoColumns+` FROM tlsrpt_report r WHERE r.report_id = $1 ORDER BY r.id`, text(reportID))
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	out := []ReportInfo{}
	for rows.Next() {
		r, err := scanInfo(rows)
		if err != nil {
			return nil, s.err(op, err)
		}
		out = append(out, *r)
	}
	return out, s.rowsErr(op, rows)
}

// DeleteReport removes report id: its raw bytes, policy results and
// failure details, and what it added to the daily sums of its domains,
// which are counted again from the reports that remain. It returns an
// error matching ErrNotFound if no report has that ID.
func (s *Store) DeleteReport(ctx context.Context, id int64) error {
	const op = "deleting report"
	return s.inTx(ctx, op, func(tx *writeTx) error {
		type domainDay struct{ domain, day string }
		type domainOrg struct{ domain, org string }
		var days []domainDay
		var orgs []domainOrg
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT policy_domain, day, organization FROM tlsrpt_policy WHERE report_ref = $1`, id)
		if err != nil {
			return s.err(op, err)
		}
		for rows.Next() {
			var dd domainDay
			var org string
			if err := rows.Scan(&dd.domain, &dd.day, &org); err != nil {
				rows.Close()
				return s.err(op, err)
			}
			days = append(days, dd)
			orgs = append(orgs, domainOrg{dd.domain, org})
		}
		rows.Close()
		if err := s.rowsErr(op, rows); err != nil {
			return err
		}
		// Lock the daily sums to count again, in the order flushRollup
		// writes them: a transaction adding to them meanwhile waits, and
		// adds its reports to the sums counted here without them.
		slices.SortFunc(days, func(a, b domainDay) int {
			return cmp.Or(cmp.Compare(a.domain, b.domain), cmp.Compare(a.day, b.day))
		})
		for _, dd := range days {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM tlsrpt_domain_day WHERE policy_domain = $1 AND day = $2`+s.dia.forUpdate+`) l`,
				dd.domain, dd.day).Scan(&n); err != nil {
				return s.err(op, err)
			}
		}
		// Raw bytes, policy results and failure details go with the
		// report (ON DELETE CASCADE).
		res, err := tx.ExecContext(ctx, `DELETE FROM tlsrpt_report WHERE id = $1`, id)
		if err != nil {
			return s.err(op, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return s.err(op, err)
		} else if n == 0 {
			return fmt.Errorf("%w: report %d", ErrNotFound, id)
		}
		// The sums of each day the report counted for are counted again
		// from the policy results that remain; tx.rollup() writes them
		// before the commit, with the organisations that remain.
		for _, dd := range days {
			for _, table := range []string{"tlsrpt_domain_day", "tlsrpt_domain_org_day"} {
				if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE policy_domain = $1 AND day = $2`, dd.domain, dd.day); err != nil {
					return s.err(op, err)
				}
			}
			if err := s.rollupPolicies(ctx, tx, tx.rollup(), `policy_domain = $1 AND day = $2`, dd.domain, dd.day); err != nil {
				return err
			}
		}
		for _, do := range orgs {
			if _, err := tx.ExecContext(ctx, `DELETE FROM tlsrpt_domain_org WHERE policy_domain = $1 AND organization = $2
				AND NOT EXISTS (SELECT 1 FROM tlsrpt_domain_org_day o WHERE o.policy_domain = $1 AND o.organization = $2)`, do.domain, do.org); err != nil {
				return s.err(op, err)
			}
		}
		return nil
	})
}

// FindReport returns the report with id, if id is not 0, else the one
// report whose report-id is reportID. No such report, or several with
// that report-id, is an error wrapping ErrNotFound.
func (s *Store) FindReport(ctx context.Context, id int64, reportID string) (*ReportInfo, error) {
	if id != 0 {
		r, err := s.GetReport(ctx, id)
		if err != nil {
			return nil, err
		}
		return &r.ReportInfo, nil
	}
	found, err := s.ReportsByReportID(ctx, reportID)
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: no report has report-id %s", ErrNotFound, untrusted.Quote(reportID))
	case 1:
		return &found[0], nil
	}
	ids := make([]string, len(found))
	for i, r := range found {
		ids[i] = strconv.FormatInt(r.ID, 10)
	}
	return nil, fmt.Errorf("%w: %d reports have report-id %s (IDs %s); name one by its ID",
		ErrNotFound, len(found), untrusted.Quote(reportID), strings.Join(ids, ", "))
}
