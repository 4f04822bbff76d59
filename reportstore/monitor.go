package reportstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The state of the monitor of "mtasts serve" (package rollout/monitor):
// the conditions open now and the history of the alerts they raised. The
// state lives here, not in the process, so that a restarted server, or
// another server taking over the watch, knows which alerts it already
// sent: one alert when a condition starts, one when it ends.

// MonitorCondition is a problem the monitor found on a served domain and
// still finds.
type MonitorCondition struct {
	// Domain is the policy domain, lower-case.
	Domain string `json:"domain"`
	// Kind names the condition, such as "mx-cert-expiry"; Subject is what
	// it is about (a host, a record name, a result type).
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	// Severity is "warning" or "critical".
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
	// Since is when the condition was first seen, Seen when last.
	Since time.Time `json:"since"`
	Seen  time.Time `json:"seen"`
	// Fired reports that the alert of its start was raised: a condition
	// may have to hold for a while before it alerts.
	Fired bool `json:"fired"`
}

// MonitorAlert is one alert: a condition that started (Status "firing")
// or ended ("resolved").
type MonitorAlert struct {
	ID       int64     `json:"id"`
	Time     time.Time `json:"time"`
	Domain   string    `json:"domain"`
	Kind     string    `json:"kind"`
	Subject  string    `json:"subject"`
	Severity string    `json:"severity"`
	Status   string    `json:"status"`
	Message  string    `json:"message"`
	Fix      string    `json:"fix"`
	// Since is when the condition started.
	Since time.Time `json:"since"`
	// Pending are the channels the alert is still to be delivered to.
	Pending []string `json:"pending,omitempty"`
}

// Values of MonitorAlert.Status.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

const monitorConditionCols = `domain, kind, subject, severity, message, fix, since, seen, fired`

// MonitorConditions returns the open conditions of domain ("" for every
// domain), ordered by domain, kind and subject.
func (s *Store) MonitorConditions(ctx context.Context, domain string) ([]MonitorCondition, error) {
	const op = "reading monitor conditions"
	q := `SELECT ` + monitorConditionCols + ` FROM tlsrpt_monitor_condition`
	var args []any
	if domain != "" {
		q += ` WHERE domain = $1`
		args = append(args, normDomain(domain))
	}
	rows, err := s.rdb.QueryContext(ctx, q+` ORDER BY domain, kind, subject`, args...)
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	out := []MonitorCondition{}
	for rows.Next() {
		var c MonitorCondition
		var since, seen int64
		var fired int
		if err := rows.Scan(&c.Domain, &c.Kind, &c.Subject, &c.Severity, &c.Message, &c.Fix, &since, &seen, &fired); err != nil {
			return nil, s.err(op, err)
		}
		c.Since, c.Seen, c.Fired = unixTime(since), unixTime(seen), fired != 0
		out = append(out, c)
	}
	return out, s.rowsErr(op, rows)
}

// PutMonitorCondition records c as open, replacing the row of its domain,
// kind and subject, and adds alert to the history in the same
// transaction if it is not nil. Alert's id is set.
func (s *Store) PutMonitorCondition(ctx context.Context, c *MonitorCondition, alert *MonitorAlert) error {
	const op = "recording a monitor condition"
	if c.Domain == "" || c.Kind == "" {
		return s.err(op, errors.New("domain and kind are required"))
	}
	fired := 0
	if c.Fired {
		fired = 1
	}
	return s.inTx(ctx, op, func(tx *writeTx) error {
		if err := tx.exec(ctx, `INSERT INTO tlsrpt_monitor_condition AS c (`+monitorConditionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (domain, kind, subject) DO UPDATE SET severity = excluded.severity, message = excluded.message,
				fix = excluded.fix, since = excluded.since, seen = excluded.seen, fired = excluded.fired`,
			normDomain(c.Domain), c.Kind, c.Subject, c.Severity, c.Message, c.Fix, c.Since.Unix(), c.Seen.Unix(), fired); err != nil {
			return s.err(op, err)
		}
		return s.addMonitorAlert(ctx, tx, op, alert)
	})
}

// EndMonitorCondition removes the open condition of domain, kind and
// subject, and adds alert to the history in the same transaction if it
// is not nil.
func (s *Store) EndMonitorCondition(ctx context.Context, domain, kind, subject string, alert *MonitorAlert) error {
	const op = "ending a monitor condition"
	return s.inTx(ctx, op, func(tx *writeTx) error {
		if err := tx.exec(ctx, `DELETE FROM tlsrpt_monitor_condition WHERE domain = $1 AND kind = $2 AND subject = $3`,
			normDomain(domain), kind, subject); err != nil {
			return s.err(op, err)
		}
		return s.addMonitorAlert(ctx, tx, op, alert)
	})
}

// addMonitorAlert inserts a into the history, stamped with the store's
// clock when its time is zero, if a is not nil.
func (s *Store) addMonitorAlert(ctx context.Context, tx *writeTx, op string, a *MonitorAlert) error {
	if a == nil {
		return nil
	}
	if a.Time.IsZero() {
		a.Time = s.now()
	}
	id, err := tx.queryID(ctx, `INSERT INTO tlsrpt_monitor_alert (at, domain, kind, subject, severity, status, message, fix, since, pending)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		a.Time.Unix(), normDomain(a.Domain), a.Kind, a.Subject, a.Severity, a.Status, a.Message, a.Fix, a.Since.Unix(), strings.Join(a.Pending, ","))
	if err != nil {
		return s.err(op, err)
	}
	a.ID = id
	return nil
}

const monitorAlertCols = `id, at, domain, kind, subject, severity, status, message, fix, since, pending`

// MonitorAlerts returns the alert history of domain ("" for every
// domain), newest first, at most limit alerts (0 for all).
func (s *Store) MonitorAlerts(ctx context.Context, domain string, limit int) ([]MonitorAlert, error) {
	q := `SELECT ` + monitorAlertCols + ` FROM tlsrpt_monitor_alert`
	var args []any
	if domain != "" {
		q += ` WHERE domain = $1`
		args = append(args, normDomain(domain))
	}
	q += ` ORDER BY at DESC, id DESC`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	return s.monitorAlerts(ctx, q, args...)
}

// PendingMonitorAlerts returns the alerts still to be delivered to some
// channel, oldest first.
func (s *Store) PendingMonitorAlerts(ctx context.Context) ([]MonitorAlert, error) {
	return s.monitorAlerts(ctx, `SELECT `+monitorAlertCols+` FROM tlsrpt_monitor_alert WHERE pending <> '' ORDER BY id`)
}

func (s *Store) monitorAlerts(ctx context.Context, q string, args ...any) ([]MonitorAlert, error) {
	const op = "reading monitor alerts"
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	out := []MonitorAlert{}
	for rows.Next() {
		var a MonitorAlert
		var at, since int64
		var pending string
		if err := rows.Scan(&a.ID, &at, &a.Domain, &a.Kind, &a.Subject, &a.Severity, &a.Status, &a.Message, &a.Fix, &since, &pending); err != nil {
			return nil, s.err(op, err)
		}
		a.Time, a.Since = unixTime(at), unixTime(since)
		if pending != "" {
			a.Pending = strings.Split(pending, ",")
		}
		out = append(out, a)
	}
	return out, s.rowsErr(op, rows)
}

// SetMonitorAlertPending records the channels alert id is still to be
// delivered to; none means delivered everywhere.
func (s *Store) SetMonitorAlertPending(ctx context.Context, id int64, pending []string) error {
	ok, err := s.changed(ctx, "recording an alert delivery", `UPDATE tlsrpt_monitor_alert SET pending = $1 WHERE id = $2`, strings.Join(pending, ","), id)
	if err == nil && !ok {
		err = s.err("recording an alert delivery", sql.ErrNoRows)
	}
	return err
}

// MonitorDomain is the last check the monitor made of a served domain.
type MonitorDomain struct {
	Domain  string    `json:"domain"`
	Checked time.Time `json:"checked"`
	// PolicyID and Mode are those of the policy served then.
	PolicyID string `json:"policy_id"`
	Mode     string `json:"mode"`
	// Findings are the findings of the check (package check), as JSON.
	Findings json.RawMessage `json:"findings"`
	// Verdict is the readiness verdict ("ready", "not-ready",
	// "insufficient-data") of a domain in mode testing, else "";
	// Evidence is the verdict with its evidence as JSON, or null.
	Verdict  string          `json:"verdict"`
	Evidence json.RawMessage `json:"evidence"`
}

// PutMonitorDomain records d as the last check of its domain.
func (s *Store) PutMonitorDomain(ctx context.Context, d *MonitorDomain) error {
	const op = "recording a domain check"
	if d.Domain == "" {
		return s.err(op, errors.New("domain is required"))
	}
	_, err := s.changed(ctx, op, `INSERT INTO tlsrpt_monitor_domain AS d (domain, checked, policy_id, mode, findings, verdict, evidence)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (domain) DO UPDATE SET checked = excluded.checked, policy_id = excluded.policy_id,
			mode = excluded.mode, findings = excluded.findings, verdict = excluded.verdict, evidence = excluded.evidence`,
		normDomain(d.Domain), d.Checked.Unix(), d.PolicyID, d.Mode, jsonOrNull(d.Findings), d.Verdict, jsonOrNull(d.Evidence))
	return err
}

// jsonOrNull returns raw as text, or "null" when it is empty.
func jsonOrNull(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	return string(raw)
}

// MonitorDomains returns the last checks of domain ("" for every domain),
// ordered by domain.
func (s *Store) MonitorDomains(ctx context.Context, domain string) ([]MonitorDomain, error) {
	const op = "reading domain checks"
	q := `SELECT domain, checked, policy_id, mode, findings, verdict, evidence FROM tlsrpt_monitor_domain`
	var args []any
	if domain != "" {
		q += ` WHERE domain = $1`
		args = append(args, normDomain(domain))
	}
	rows, err := s.rdb.QueryContext(ctx, q+` ORDER BY domain`, args...)
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	out := []MonitorDomain{}
	for rows.Next() {
		var d MonitorDomain
		var checked int64
		var findings, evidence string
		if err := rows.Scan(&d.Domain, &checked, &d.PolicyID, &d.Mode, &findings, &d.Verdict, &evidence); err != nil {
			return nil, s.err(op, err)
		}
		d.Checked, d.Findings, d.Evidence = unixTime(checked), json.RawMessage(findings), json.RawMessage(evidence)
		out = append(out, d)
	}
	return out, s.rowsErr(op, rows)
}
