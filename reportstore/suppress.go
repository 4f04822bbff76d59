package reportstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// The suppression list of the reports we send: policy domains or rua
// URIs that get no report, entered by hand or, for a rua, after repeated
// deliveries refused for good (RFC 8460 §5.5 leaves to the sender what
// to do with a rua that never works).

// Suppression is one entry of the list.
type Suppression struct {
	Target   string // a policy domain or a rua URI
	Manual   bool   // entered by hand (Suppress)
	Failures int64  // deliveries given up in a row
	Reason   string
	Updated  time.Time
}

// Suppress puts target (a policy domain or a rua URI) on the list by
// hand, with reason.
func (s *Store) Suppress(ctx context.Context, target, reason string) error {
	return s.inTx(ctx, "suppressing", func(tx *writeTx) error {
		err := tx.exec(ctx, `INSERT INTO tlsrpt_send_suppression AS d (target, manual, failures, reason, updated_at) VALUES ($1, 1, 0, $2, $3)
			ON CONFLICT (target) DO UPDATE SET manual = 1, reason = excluded.reason, updated_at = excluded.updated_at`,
			text(target), text(reason), s.now().Unix())
		if err != nil {
			return s.err("suppressing", err)
		}
		return nil
	})
}

// Unsuppress takes target off the list and forgets its failures.
func (s *Store) Unsuppress(ctx context.Context, target string) error {
	return s.inTx(ctx, "unsuppressing", func(tx *writeTx) error {
		if err := tx.exec(ctx, `DELETE FROM tlsrpt_send_suppression WHERE target = $1`, text(target)); err != nil {
			return s.err("unsuppressing", err)
		}
		return nil
	})
}

// CountFailure counts a delivery to target given up for good, with why
// (an entry made by hand keeps its own reason), and returns the failures
// in a row so far.
func (s *Store) CountFailure(ctx context.Context, target, reason string) (int64, error) {
	var n int64
	err := s.inTx(ctx, "counting a failure", func(tx *writeTx) error {
		err := tx.exec(ctx, `INSERT INTO tlsrpt_send_suppression AS d (target, manual, failures, reason, updated_at) VALUES ($1, 0, 1, $2, $3)
			ON CONFLICT (target) DO UPDATE SET failures = `+addSaturating("failures")+`,
				reason = CASE WHEN d.manual = 1 THEN d.reason ELSE excluded.reason END, updated_at = excluded.updated_at`,
			text(target), text(reason), s.now().Unix())
		if err != nil {
			return s.err("counting a failure", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT failures FROM tlsrpt_send_suppression WHERE target = $1`, text(target)).Scan(count(&n)); err != nil {
			return s.err("counting a failure", err)
		}
		return nil
	})
	return n, err
}

// ResetFailures forgets the failures of target after a delivery went
// through; an entry made by hand stays.
func (s *Store) ResetFailures(ctx context.Context, target string) error {
	return s.inTx(ctx, "resetting failures", func(tx *writeTx) error {
		if err := tx.exec(ctx, `DELETE FROM tlsrpt_send_suppression WHERE target = $1 AND manual = 0`, text(target)); err != nil {
			return s.err("resetting failures", err)
		}
		if err := tx.exec(ctx, `UPDATE tlsrpt_send_suppression SET failures = 0 WHERE target = $1`, text(target)); err != nil {
			return s.err("resetting failures", err)
		}
		return nil
	})
}

// Suppressed returns the entry of target if it is entered by hand or has
// at least maxFailures failures in a row (maxFailures 0: never for
// failures alone), else nil.
func (s *Store) Suppressed(ctx context.Context, target string, maxFailures int64) (*Suppression, error) {
	e, err := scanSuppression(s.db.QueryRowContext(ctx, `SELECT `+suppressionColumns+` FROM tlsrpt_send_suppression WHERE target = $1`, text(target)))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, s.err("reading the suppression list", err)
	}
	if e.Manual || maxFailures > 0 && e.Failures >= maxFailures {
		return e, nil
	}
	return nil, nil
}

const suppressionColumns = `target, manual, failures, reason, updated_at`

// scanSuppression reads the suppressionColumns of one row.
func scanSuppression(row interface{ Scan(...any) error }) (*Suppression, error) {
	var e Suppression
	var manual, updated int64
	if err := row.Scan(&e.Target, &manual, count(&e.Failures), &e.Reason, &updated); err != nil {
		return nil, err
	}
	e.Manual, e.Updated = manual != 0, time.Unix(updated, 0).UTC()
	return &e, nil
}

// Suppressions returns the entries of the list, by target: those made by
// hand and those with failures counted.
func (s *Store) Suppressions(ctx context.Context) ([]Suppression, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+suppressionColumns+` FROM tlsrpt_send_suppression ORDER BY target`)
	if err != nil {
		return nil, s.err("reading the suppression list", err)
	}
	defer rows.Close()
	var out []Suppression
	for rows.Next() {
		e, err := scanSuppression(rows)
		if err != nil {
			return nil, s.err("reading the suppression list", err)
		}
		out = append(out, *e)
	}
	return out, s.rowsErr("reading the suppression list", rows)
}
