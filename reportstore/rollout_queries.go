package reportstore

import (
	"context"
	"fmt"
)

// The questions the readiness verdict of package rollout asks: who
// reported how many sessions, and which failures came from which
// organisation for which MX host and result type.

// OrganizationSessions sums what one sending organisation reported for
// the selected policy results (RFC 8460 §4.4 "summary").
type OrganizationSessions struct {
	Organization string `json:"organization"`
	Successful   int64  `json:"successful"`
	Failed       int64  `json:"failed"`
	Reports      int    `json:"reports"`
}

// Sessions returns the sessions the organisation counted.
func (o *OrganizationSessions) Sessions() int64 { return sessions(o.Successful, o.Failed) }

// OrganizationSessions counts sessions per sending organisation, ordered
// by organisation.
func (s *Store) OrganizationSessions(ctx context.Context, f Filter) ([]OrganizationSessions, error) {
	const op = "sessions by organization"
	var args []any
	rows, err := s.rdb.QueryContext(ctx, `SELECT organization, `+sumOf("successful")+`, `+sumOf("failed")+`, COUNT(DISTINCT report_ref)
		FROM tlsrpt_policy WHERE `+f.where("", &args)+` GROUP BY organization ORDER BY organization`, args...)
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	out := []OrganizationSessions{}
	for rows.Next() {
		var o OrganizationSessions
		if err := rows.Scan(&o.Organization, count(&o.Successful), count(&o.Failed), &o.Reports); err != nil {
			return nil, s.err(op, err)
		}
		out = append(out, o)
	}
	return out, s.rowsErr(op, rows)
}

// FailureGroup is the failed sessions of one receiving MX host, result
// type (RFC 8460 §4.3) and sending organisation.
type FailureGroup struct {
	// MXHost is the receiving-mx-hostname, lower-case; "" when the
	// senders left it out (as for policy fetch failures).
	MXHost       string `json:"mx_host"`
	ResultType   string `json:"result_type"`
	Organization string `json:"organization"`
	Failed       int64  `json:"failed"`
	Reports      int    `json:"reports"`
	// WithSuccess counts the failure details of the group whose policy
	// result also counted successful sessions. RFC 8460 counts successes
	// per policy, not per MX host: a host whose failures never come with
	// a success is one no sender was seen delivering through.
	WithSuccess int `json:"with_success"`
}

// FailureGroups counts failed sessions per MX host, result type and
// organisation, ordered by MX host, result type and organisation.
func (s *Store) FailureGroups(ctx context.Context, f Filter) ([]FailureGroup, error) {
	const op = "failures by MX host, result type and organization"
	var args []any
	q := fmt.Sprintf(`SELECT LOWER(f.mx_host), f.result_type, f.organization, %s, COUNT(DISTINCT f.report_ref),
			SUM(CASE WHEN p.successful > 0 THEN 1 ELSE 0 END)
		FROM tlsrpt_failure f JOIN tlsrpt_policy p ON p.report_ref = f.report_ref AND p.idx = f.policy_idx
		WHERE %s GROUP BY LOWER(f.mx_host), f.result_type, f.organization ORDER BY 1, 2, 3`,
		sumOf("f.failed_count"), f.where("f.", &args))
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	out := []FailureGroup{}
	for rows.Next() {
		var g FailureGroup
		if err := rows.Scan(&g.MXHost, &g.ResultType, &g.Organization, count(&g.Failed), &g.Reports, &g.WithSuccess); err != nil {
			return nil, s.err(op, err)
		}
		out = append(out, g)
	}
	return out, s.rowsErr(op, rows)
}
