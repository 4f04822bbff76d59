package reportstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// The audit log of package rollout: every change of a served policy's
// mode ("mtasts promote --apply", "mtasts demote") with who made it, the
// policy before and after, and the evidence it was made on.

// AuditEntry is one change of a served policy.
type AuditEntry struct {
	ID   int64     `json:"id"`
	Time time.Time `json:"time"`
	// Actor is who made the change: a login name.
	Actor string `json:"actor"`
	// Domain is the policy domain, lower-case.
	Domain string `json:"domain"`
	// Action is "promote" or "demote".
	Action string `json:"action"`
	// Forced reports a promotion made against the verdict.
	Forced bool `json:"forced"`
	// OldID and NewID are the policy ids (RFC 8461 §3.1) before and after;
	// NewID is "" when the running server assigns it later.
	OldID string `json:"old_id"`
	NewID string `json:"new_id"`
	// OldPolicy and NewPolicy are the policy texts (RFC 8461 §3.2).
	OldPolicy string `json:"old_policy"`
	NewPolicy string `json:"new_policy"`
	// Verdict is the readiness verdict at the time ("ready", "not-ready",
	// "insufficient-data"), "" if none was made.
	Verdict string `json:"verdict"`
	// Evidence is the verdict with its evidence, as JSON; null if none.
	Evidence json.RawMessage `json:"evidence"`
}

// AddAudit records e, stamped with the store's clock when e.Time is zero,
// and returns its id.
func (s *Store) AddAudit(ctx context.Context, e *AuditEntry) (int64, error) {
	const op = "recording a policy change"
	if e.Domain == "" || e.Action == "" {
		return 0, s.err(op, errors.New("domain and action are required"))
	}
	at := e.Time
	if at.IsZero() {
		at = s.now()
	}
	evidence := string(e.Evidence)
	if evidence == "" {
		evidence = "null"
	}
	forced := 0
	if e.Forced {
		forced = 1
	}
	var id int64
	err := s.inTx(ctx, op, func(tx *writeTx) error {
		var err error
		id, err = tx.queryID(ctx, `INSERT INTO tlsrpt_rollout_audit (at, actor, domain, action, forced, old_id, new_id, old_policy, new_policy, verdict, evidence)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
			at.Unix(), e.Actor, normDomain(e.Domain), e.Action, forced, e.OldID, e.NewID, e.OldPolicy, e.NewPolicy, e.Verdict, evidence)
		if err != nil {
			return s.err(op, err)
		}
		return nil
	})
	return id, err
}

// AuditLog returns the changes of domain's policy ("" for every domain),
// oldest first.
func (s *Store) AuditLog(ctx context.Context, domain string) ([]AuditEntry, error) {
	const op = "reading the audit log"
	q := `SELECT id, at, actor, domain, action, forced, old_id, new_id, old_policy, new_policy, verdict, evidence FROM tlsrpt_rollout_audit`
	var args []any
	if domain != "" {
		q += ` WHERE domain = $1`
		args = append(args, normDomain(domain))
	}
	rows, err := s.rdb.QueryContext(ctx, q+` ORDER BY at, id`, args...)
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at int64
		var forced int
		var evidence string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Domain, &e.Action, &forced, &e.OldID, &e.NewID, &e.OldPolicy, &e.NewPolicy, &e.Verdict, &evidence); err != nil {
			return nil, s.err(op, err)
		}
		e.Time, e.Forced, e.Evidence = unixTime(at), forced != 0, json.RawMessage(evidence)
		out = append(out, e)
	}
	return out, s.rowsErr(op, rows)
}
