package reportstore

import (
	"context"
	"fmt"
	"time"
)

// The delivery queue of the reports we send (RFC 8460 §5): one row per
// UTC day, policy domain and rua URI, holding the report as built, its
// status and the sender's delivery state. A report is built once, queued
// once per rua, and every attempt's state is written before and after it
// is made, so that a restarted or another sender resumes where the last
// one stopped.

// Queued is a report to deliver to one rua URI.
type Queued struct {
	Day      time.Time // the UTC day the report is about
	Domain   string    // the policy domain
	URI      string    // the rua URI (RFC 8460 §3)
	ReportID string
	Filename string // RFC 8460 §5.1
	Report   []byte // application/tlsrpt+gzip; empty from QueuedReports without data
	// Status is the delivery status ("pending", "sending", "delivered",
	// "failed"); NextAttempt when a pending delivery is due; State the
	// sender's delivery state, JSON.
	Status      string
	NextAttempt time.Time
	State       []byte
	Updated     time.Time
}

// Enqueue adds q to the queue unless the queue holds a delivery of the
// same day, domain and URI already: it reports whether it added it. A
// report built again after a crash is thus not queued twice.
func (s *Store) Enqueue(ctx context.Context, q Queued) (added bool, err error) {
	return s.changed(ctx, "queueing a report", `INSERT INTO tlsrpt_send_queue (day, policy_domain, uri, report_id, filename, report, status, next_attempt, state, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (day, policy_domain, uri) DO NOTHING`,
		dayOf(q.Day), normDomain(q.Domain), q.URI, q.ReportID, q.Filename, q.Report,
		q.Status, q.NextAttempt.Unix(), string(q.State), s.now().Unix())
}

// changed runs a write statement in a transaction of its own and
// reports whether it changed a row.
func (s *Store) changed(ctx context.Context, op, query string, args ...any) (bool, error) {
	var n int64
	err := s.inTx(ctx, op, func(tx *writeTx) error {
		st, err := tx.stmt(ctx, query)
		if err != nil {
			return s.err(op, err)
		}
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return s.err(op, err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return s.err(op, err)
		}
		return nil
	})
	return n > 0, err
}

// UpdateQueued stores the status, next attempt and state of the delivery
// of q.Day, q.Domain and q.URI.
func (s *Store) UpdateQueued(ctx context.Context, q Queued) error {
	return s.inTx(ctx, "updating a queued report", func(tx *writeTx) error {
		err := tx.exec(ctx, `UPDATE tlsrpt_send_queue SET status = $1, next_attempt = $2, state = $3, updated_at = $4
			WHERE day = $5 AND policy_domain = $6 AND uri = $7`,
			q.Status, q.NextAttempt.Unix(), string(q.State), s.now().Unix(), dayOf(q.Day), normDomain(q.Domain), q.URI)
		if err != nil {
			return s.err("updating a queued report", err)
		}
		return nil
	})
}

// QueueFilter selects queued reports.
type QueueFilter struct {
	Day      time.Time // only this UTC day, if not zero
	Statuses []string  // only these statuses, if any
	// DueBy, if not zero, keeps the deliveries whose next attempt is at
	// or before it.
	DueBy    time.Time
	WithData bool // read the reports' bytes too
}

// QueuedReports returns the queued reports f selects, by day, domain and
// URI.
func (s *Store) QueuedReports(ctx context.Context, f QueueFilter) ([]Queued, error) {
	cond, args := "1 = 1", []any{}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if !f.Day.IsZero() {
		cond += " AND day = " + arg(dayOf(f.Day))
	}
	if len(f.Statuses) > 0 {
		cond += " AND status IN ("
		for i, st := range f.Statuses {
			if i > 0 {
				cond += ", "
			}
			cond += arg(st)
		}
		cond += ")"
	}
	if !f.DueBy.IsZero() {
		cond += " AND next_attempt <= " + arg(f.DueBy.Unix())
	}
	data := "''"
	if f.WithData {
		data = "report"
	}
	rows, err := s.db.QueryContext(ctx, `SELECT day, policy_domain, uri, report_id, filename, `+data+`, status, next_attempt, state, updated_at
		FROM tlsrpt_send_queue WHERE `+cond+` ORDER BY day, policy_domain, uri`, args...)
	if err != nil {
		return nil, s.err("reading the report queue", err)
	}
	defer rows.Close()
	var out []Queued
	for rows.Next() {
		var q Queued
		var day, state string
		var next, updated int64
		var report []byte
		if err := rows.Scan(&day, &q.Domain, &q.URI, &q.ReportID, &q.Filename, &report, &q.Status, &next, &state, &updated); err != nil {
			return nil, s.err("reading the report queue", err)
		}
		if q.Day, err = time.Parse(time.DateOnly, day); err != nil {
			return nil, s.err("reading the report queue", err)
		}
		if len(report) > 0 {
			q.Report = report
		}
		q.NextAttempt, q.State, q.Updated = time.Unix(next, 0).UTC(), []byte(state), time.Unix(updated, 0).UTC()
		out = append(out, q)
	}
	return out, s.rowsErr("reading the report queue", rows)
}

// MarkDayBuilt records that the reports of the UTC day of day are built
// and queued: reports of them, skipped domains without a usable
// _smtp._tls record or suppressed. A day is marked once; it returns
// false if it was already.
func (s *Store) MarkDayBuilt(ctx context.Context, day time.Time, reports, skipped int) (bool, error) {
	return s.changed(ctx, "marking a day built", `INSERT INTO tlsrpt_send_day (day, built_at, reports, skipped) VALUES ($1, $2, $3, $4) ON CONFLICT (day) DO NOTHING`,
		dayOf(day), s.now().Unix(), reports, skipped)
}

// DayBuilt reports whether the reports of the UTC day of day are built.
func (s *Store) DayBuilt(ctx context.Context, day time.Time) (bool, error) {
	var n int64
	// db, not rdb: the sender reads what it just wrote.
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tlsrpt_send_day WHERE day = $1`, dayOf(day)).Scan(&n); err != nil {
		return false, s.err("reading built days", err)
	}
	return n > 0, nil
}
