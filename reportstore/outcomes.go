package reportstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mtasts/mtasts/tlsrpt"
)

// The outcomes of our own MTAs, for the reports we send (RFC 8460 §4):
// summed per UTC day (§4.1), policy domain and policy applied, with the
// failures grouped as §4.4's failure-details are. Several MTAs (or
// several collectors) add to the same rows, so that one reporter sends
// one report per domain and day for all of them.

// AddOutcomes adds the session counts and failure details of results,
// the outcomes of one policy domain on the UTC day of day, to those
// stored: counts are summed (saturating at math.MaxInt64, as everywhere
// in the store), never replaced.
func (s *Store) AddOutcomes(ctx context.Context, day time.Time, domain string, results []tlsrpt.PolicyResult) error {
	return s.AddOutcomeBatch(ctx, []DayOutcomes{{Day: day, Domain: domain, Results: results}}, nil)
}

// DayOutcomes are the outcomes of one policy domain on one UTC day, as
// AddOutcomes takes them.
type DayOutcomes struct {
	Day     time.Time
	Domain  string
	Results []tlsrpt.PolicyResult
}

// Cursor is how far a collector of outcomes has read its source (a log
// file's identity and offset), in the collector's own format.
type Cursor struct {
	Name     string
	Position string
}

// AddOutcomeBatch adds the outcomes of batch as AddOutcomes does and
// stores the cursors, all in one transaction: a collector that resumes
// from its stored cursor neither loses nor counts again what it read
// before.
func (s *Store) AddOutcomeBatch(ctx context.Context, batch []DayOutcomes, cursors []Cursor) error {
	return s.inTx(ctx, "adding outcomes", func(tx *writeTx) error {
		for _, do := range batch {
			if err := s.addOutcomes(ctx, tx, do.Day, do.Domain, do.Results); err != nil {
				return err
			}
		}
		for _, c := range cursors {
			err := tx.exec(ctx, `INSERT INTO tlsrpt_out_cursor (name, position, updated_at) VALUES ($1, $2, $3)
				ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
				c.Name, c.Position, s.now().Unix())
			if err != nil {
				return s.err("storing the cursor "+c.Name, err)
			}
		}
		return nil
	})
}

// OutcomeCursor returns the position stored under name by
// AddOutcomeBatch, "" if none.
func (s *Store) OutcomeCursor(ctx context.Context, name string) (string, error) {
	var pos string
	err := s.rdb.QueryRowContext(ctx, `SELECT position FROM tlsrpt_out_cursor WHERE name = $1`, name).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", s.err("reading the cursor "+name, err)
	}
	return pos, nil
}

// addOutcomes is AddOutcomes in the transaction tx.
func (s *Store) addOutcomes(ctx context.Context, tx *writeTx, day time.Time, domain string, results []tlsrpt.PolicyResult) error {
	d, dom := dayOf(day), normDomain(domain)
	if dom == "" {
		return fmt.Errorf("reportstore: adding outcomes: no policy domain")
	}
	for _, pr := range results {
		if pr.Summary.Successful < 0 || pr.Summary.Failed < 0 {
			return fmt.Errorf("reportstore: adding outcomes of %s: negative count %+v", dom, pr.Summary)
		}
		key, strs, mx, err := policyKey(pr.Policy)
		if err != nil {
			return fmt.Errorf("reportstore: adding outcomes of %s: %w", dom, err)
		}
		err = tx.exec(ctx, `INSERT INTO tlsrpt_out_policy AS d (day, policy_domain, policy_key, policy_type, policy_strings, mx_hosts, successful, failed)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (day, policy_domain, policy_key) DO UPDATE SET successful = `+addSaturating("successful")+`, failed = `+addSaturating("failed"),
			d, dom, key, text(string(pr.Policy.Type)), strs, mx, pr.Summary.Successful, pr.Summary.Failed)
		if err != nil {
			return s.err("adding outcomes", err)
		}
		for _, fd := range pr.FailureDetails {
			if fd.FailedSessionCount < 0 {
				return fmt.Errorf("reportstore: adding outcomes of %s: negative failed-session-count", dom)
			}
			err := tx.exec(ctx, `INSERT INTO tlsrpt_out_failure AS d (day, policy_domain, policy_key, result_type, sending_ip, mx_host, receiving_ip, additional, reason_code, failed_count)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (day, policy_domain, policy_key, result_type, sending_ip, mx_host, receiving_ip, additional, reason_code)
				DO UPDATE SET failed_count = `+addSaturating("failed_count"),
				d, dom, key, text(string(fd.ResultType)), addr(fd.SendingMTAIP), normDomain(text(fd.ReceivingMXHostname)),
				addr(fd.ReceivingIP), text(fd.AdditionalInformation), text(fd.FailureReasonCode), fd.FailedSessionCount)
			if err != nil {
				return s.err("adding outcomes", err)
			}
		}
	}
	return nil
}

// policyKey returns the key of a policy as applied (its type, lines and
// mx patterns, RFC 8460 §4.4) and its lines and patterns as stored.
func policyKey(p tlsrpt.Policy) (key, strs, mx string, err error) {
	sb, err := json.Marshal(nonNil(textAll(p.Strings)))
	if err != nil {
		return "", "", "", err
	}
	lower := make([]string, len(p.MXHosts))
	for i, m := range p.MXHosts {
		lower[i] = strings.ToLower(text(m))
	}
	mb, err := json.Marshal(lower)
	if err != nil {
		return "", "", "", err
	}
	sum := sha256.Sum256([]byte(string(p.Type) + "\x00" + string(sb) + "\x00" + string(mb)))
	return hex.EncodeToString(sum[:16]), string(sb), string(mb), nil
}

// OutcomeTotal is what the store holds of one policy domain's outcomes
// on one UTC day.
type OutcomeTotal struct {
	Day        time.Time // midnight UTC
	Domain     string
	Successful int64
	Failed     int64
	// Built reports that the day's reports were built (MarkDayBuilt).
	Built bool
}

// OutcomeTotals returns the session counts of every policy domain and
// day from since up to (excluding) until, zero times meaning no bound,
// ordered by day and domain.
func (s *Store) OutcomeTotals(ctx context.Context, since, until time.Time) ([]OutcomeTotal, error) {
	cond, args := "1 = 1", []any{}
	if !since.IsZero() {
		args = append(args, dayOf(since))
		cond += fmt.Sprintf(" AND o.day >= $%d", len(args))
	}
	if !until.IsZero() {
		args = append(args, dayOf(until))
		cond += fmt.Sprintf(" AND o.day < $%d", len(args))
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT o.day, o.policy_domain, `+sumOf("o.successful")+`, `+sumOf("o.failed")+`,
		EXISTS (SELECT 1 FROM tlsrpt_send_day b WHERE b.day = o.day)
		FROM tlsrpt_out_policy o WHERE `+cond+` GROUP BY o.day, o.policy_domain ORDER BY o.day, o.policy_domain`, args...)
	if err != nil {
		return nil, s.err("reading outcomes", err)
	}
	defer rows.Close()
	var out []OutcomeTotal
	for rows.Next() {
		var t OutcomeTotal
		var day string
		var built any
		if err := rows.Scan(&day, &t.Domain, count(&t.Successful), count(&t.Failed), &built); err != nil {
			return nil, s.err("reading outcomes", err)
		}
		if t.Day, err = time.Parse(time.DateOnly, day); err != nil {
			return nil, s.err("reading outcomes", err)
		}
		t.Built = truthy(built)
		out = append(out, t)
	}
	return out, s.rowsErr("reading outcomes", rows)
}

// truthy reads a boolean as SQLite (an integer) and PostgreSQL (a bool)
// return it.
func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case int64:
		return v != 0
	}
	return false
}

// OutcomeResults returns the "policies" of the report about domain for
// the UTC day of day (RFC 8460 §4.4): one element per policy applied,
// with its summary and failure details, ordered by policy; nil if the
// store has no outcome for them.
func (s *Store) OutcomeResults(ctx context.Context, day time.Time, domain string) ([]tlsrpt.PolicyResult, error) {
	d, dom := dayOf(day), normDomain(domain)
	// One snapshot for both reads, so that the summaries add up to the
	// failure details while collectors go on adding.
	opts := &sql.TxOptions{ReadOnly: true}
	if s.dia == postgresDialect {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.rdb.BeginTx(ctx, opts)
	if err != nil {
		return nil, s.err("reading outcomes", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT policy_key, policy_type, policy_strings, mx_hosts, successful, failed
		FROM tlsrpt_out_policy WHERE day = $1 AND policy_domain = $2 ORDER BY policy_key`, d, dom)
	if err != nil {
		return nil, s.err("reading outcomes", err)
	}
	var out []tlsrpt.PolicyResult
	index := map[string]int{}
	for rows.Next() {
		var key, typ, strs, mx string
		pr := tlsrpt.PolicyResult{}
		if err := rows.Scan(&key, &typ, &strs, &mx, count(&pr.Summary.Successful), count(&pr.Summary.Failed)); err != nil {
			rows.Close()
			return nil, s.err("reading outcomes", err)
		}
		pr.Policy = tlsrpt.Policy{Type: tlsrpt.PolicyType(typ), Domain: dom}
		if err := json.Unmarshal([]byte(strs), &pr.Policy.Strings); err != nil {
			rows.Close()
			return nil, s.err("reading outcomes", err)
		}
		if err := json.Unmarshal([]byte(mx), &pr.Policy.MXHosts); err != nil {
			rows.Close()
			return nil, s.err("reading outcomes", err)
		}
		if len(pr.Policy.Strings) == 0 {
			pr.Policy.Strings = nil
		}
		if len(pr.Policy.MXHosts) == 0 {
			pr.Policy.MXHosts = nil
		}
		index[key] = len(out)
		out = append(out, pr)
	}
	rows.Close()
	if err := s.rowsErr("reading outcomes", rows); err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, `SELECT policy_key, result_type, sending_ip, mx_host, receiving_ip, additional, reason_code, failed_count
		FROM tlsrpt_out_failure WHERE day = $1 AND policy_domain = $2
		ORDER BY policy_key, result_type, mx_host, receiving_ip, sending_ip, additional, reason_code`, d, dom)
	if err != nil {
		return nil, s.err("reading outcome failures", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key, typ, sending, receiving string
		var fd tlsrpt.FailureDetail
		if err := rows.Scan(&key, &typ, &sending, &fd.ReceivingMXHostname, &receiving, &fd.AdditionalInformation, &fd.FailureReasonCode, count(&fd.FailedSessionCount)); err != nil {
			return nil, s.err("reading outcome failures", err)
		}
		fd.ResultType = tlsrpt.ResultType(typ)
		fd.SendingMTAIP, _ = netip.ParseAddr(sending) // "" is the zero Addr
		fd.ReceivingIP, _ = netip.ParseAddr(receiving)
		i, ok := index[key]
		if !ok {
			return nil, s.err("reading outcome failures", fmt.Errorf("failures of %s on %s under a policy not stored", dom, d))
		}
		out[i].FailureDetails = append(out[i].FailureDetails, fd)
	}
	return out, s.rowsErr("reading outcome failures", rows)
}
