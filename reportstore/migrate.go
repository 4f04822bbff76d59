package reportstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A migration takes the schema from version-1 to version. Statements may
// use {{serial}} and {{blob}} for the column types that differ between
// SQLite and PostgreSQL, and {{without_rowid}} after a table whose
// primary key SQLite should store it by (one B-tree rather than two).
// fill, if set, runs after the statements, in the same transaction.
// Migrations are never edited once released: a change of schema is a new
// migration at the end of the list.
type migration struct {
	version int
	stmts   []string
	fill    func(s *Store, ctx context.Context, tx *writeTx) error
}

// Tables carry the tlsrpt_ prefix so that the store can share a database
// with the policy cache. Times are Unix seconds; days are YYYY-MM-DD text,
// which sorts and compares as dates in both databases. Failure details,
// the most numerous rows, are indexed by domain and day only: an index by
// day alone cost an eighth of the import speed, and failures are looked
// at per domain.
var migrations = []migration{
	{version: 1, stmts: []string{
		`CREATE TABLE tlsrpt_report (
			id             {{serial}},
			organization   TEXT NOT NULL,
			report_id      TEXT NOT NULL,
			contact_info   TEXT NOT NULL,
			start_time     BIGINT NOT NULL,
			end_time       BIGINT NOT NULL,
			day            TEXT NOT NULL,
			domains        TEXT NOT NULL,
			successful     BIGINT NOT NULL,
			failed         BIGINT NOT NULL,
			received_at    BIGINT NOT NULL,
			source         TEXT NOT NULL,
			origin         TEXT NOT NULL,
			mail_domain    TEXT NOT NULL,
			mail_submitter TEXT NOT NULL,
			mail_subject   TEXT NOT NULL,
			message_id     TEXT NOT NULL,
			dkim           TEXT NOT NULL,
			dkim_domain    TEXT NOT NULL,
			from_mail      INTEGER NOT NULL,
			diagnostics    TEXT NOT NULL,
			diag_count     INTEGER NOT NULL,
			duplicates     INTEGER NOT NULL DEFAULT 0,
			UNIQUE (organization, report_id, start_time, end_time)
		)`,
		`CREATE INDEX tlsrpt_report_day ON tlsrpt_report (day, id)`,
		`CREATE TABLE tlsrpt_raw (
			report_ref BIGINT PRIMARY KEY REFERENCES tlsrpt_report (id) ON DELETE CASCADE,
			raw_type   TEXT NOT NULL,
			data       {{blob}} NOT NULL
		)`,
		`CREATE TABLE tlsrpt_policy (
			report_ref     BIGINT NOT NULL REFERENCES tlsrpt_report (id) ON DELETE CASCADE,
			idx            INTEGER NOT NULL,
			organization   TEXT NOT NULL,
			day            TEXT NOT NULL,
			policy_domain  TEXT NOT NULL,
			policy_type    TEXT NOT NULL,
			policy_strings TEXT NOT NULL,
			mx_hosts       TEXT NOT NULL,
			mode           TEXT NOT NULL,
			successful     BIGINT NOT NULL,
			failed         BIGINT NOT NULL,
			PRIMARY KEY (report_ref, idx)
		){{without_rowid}}`,
		// Covers the summaries: they read the index, not the table.
		`CREATE INDEX tlsrpt_policy_domain_day ON tlsrpt_policy (policy_domain, day, successful, failed, organization)`,
		`CREATE TABLE tlsrpt_failure (
			report_ref    BIGINT NOT NULL REFERENCES tlsrpt_report (id) ON DELETE CASCADE,
			policy_idx    INTEGER NOT NULL,
			idx           INTEGER NOT NULL,
			organization  TEXT NOT NULL,
			day           TEXT NOT NULL,
			policy_domain TEXT NOT NULL,
			result_type   TEXT NOT NULL,
			sending_ip    TEXT NOT NULL,
			mx_host       TEXT NOT NULL,
			mx_helo       TEXT NOT NULL,
			receiving_ip  TEXT NOT NULL,
			failed_count  BIGINT NOT NULL,
			additional    TEXT NOT NULL,
			reason_code   TEXT NOT NULL,
			PRIMARY KEY (report_ref, policy_idx, idx)
		){{without_rowid}}`,
		`CREATE INDEX tlsrpt_failure_domain_day ON tlsrpt_failure (policy_domain, day)`,
		`CREATE TABLE tlsrpt_quarantine (
			id          {{serial}},
			received_at BIGINT NOT NULL,
			source      TEXT NOT NULL,
			origin      TEXT NOT NULL,
			reason      TEXT NOT NULL,
			raw_type    TEXT NOT NULL,
			size        BIGINT NOT NULL,
			sha256      TEXT NOT NULL UNIQUE,
			attempts    INTEGER NOT NULL DEFAULT 1,
			data        {{blob}} NOT NULL
		)`,
	}},
	// The rollup of rollup.go: what the overview of all domains reads.
	{version: 2, stmts: []string{
		`CREATE TABLE tlsrpt_domain_day (
			policy_domain TEXT NOT NULL,
			day           TEXT NOT NULL,
			successful    BIGINT NOT NULL,
			failed        BIGINT NOT NULL,
			reports       BIGINT NOT NULL,
			policy_type   TEXT NOT NULL,
			mode          TEXT NOT NULL,
			latest_ref    BIGINT NOT NULL,
			latest_idx    INTEGER NOT NULL,
			PRIMARY KEY (policy_domain, day)
		){{without_rowid}}`,
		`CREATE TABLE tlsrpt_domain_org_day (
			policy_domain TEXT NOT NULL,
			organization  TEXT NOT NULL,
			day           TEXT NOT NULL,
			PRIMARY KEY (policy_domain, organization, day)
		){{without_rowid}}`,
		`CREATE TABLE tlsrpt_domain_org (
			policy_domain TEXT NOT NULL,
			organization  TEXT NOT NULL,
			PRIMARY KEY (policy_domain, organization)
		){{without_rowid}}`,
	}, fill: (*Store).backfillRollup},
	// The dashboard sessions signed out before their time (sessions.go),
	// by an id derived from the session, until they would have expired.
	// IF NOT EXISTS: a test that takes the schema back to version 1 runs
	// this again.
	{version: 3, stmts: []string{
		`CREATE TABLE IF NOT EXISTS tlsrpt_session_revoked (
			id      TEXT PRIMARY KEY,
			expires BIGINT NOT NULL
		){{without_rowid}}`,
		`CREATE INDEX IF NOT EXISTS tlsrpt_session_revoked_expires ON tlsrpt_session_revoked (expires)`,
	}},
	// The quarantine's budget (quarantine.go): the bytes each entry keeps,
	// and whether it looked like a report, which is evicted last.
	{version: 4, stmts: []string{
		`ALTER TABLE tlsrpt_quarantine ADD COLUMN stored BIGINT NOT NULL DEFAULT 0`,
		`ALTER TABLE tlsrpt_quarantine ADD COLUMN report_like INTEGER NOT NULL DEFAULT 1`,
		`UPDATE tlsrpt_quarantine SET stored = LENGTH(data)`,
		`CREATE INDEX tlsrpt_quarantine_evict ON tlsrpt_quarantine (report_like, id)`,
	}},
	// The sending side of RFC 8460 (outcomes.go, sendqueue.go, lease.go,
	// suppress.go): the outcomes our MTAs saw, summed per UTC day, policy
	// domain and policy; the days whose reports are built; one delivery
	// per report and rua; the lease of the one sender; the suppression
	// list. IF NOT EXISTS: a test that takes the schema back to version 1
	// runs this again.
	{version: 5, stmts: []string{
		`CREATE TABLE IF NOT EXISTS tlsrpt_out_policy (
			day            TEXT NOT NULL,
			policy_domain  TEXT NOT NULL,
			policy_key     TEXT NOT NULL,
			policy_type    TEXT NOT NULL,
			policy_strings TEXT NOT NULL,
			mx_hosts       TEXT NOT NULL,
			successful     BIGINT NOT NULL,
			failed         BIGINT NOT NULL,
			PRIMARY KEY (day, policy_domain, policy_key)
		){{without_rowid}}`,
		`CREATE TABLE IF NOT EXISTS tlsrpt_out_failure (
			day           TEXT NOT NULL,
			policy_domain TEXT NOT NULL,
			policy_key    TEXT NOT NULL,
			result_type   TEXT NOT NULL,
			sending_ip    TEXT NOT NULL,
			mx_host       TEXT NOT NULL,
			receiving_ip  TEXT NOT NULL,
			additional    TEXT NOT NULL,
			reason_code   TEXT NOT NULL,
			failed_count  BIGINT NOT NULL,
			PRIMARY KEY (day, policy_domain, policy_key, result_type, sending_ip, mx_host, receiving_ip, additional, reason_code)
		){{without_rowid}}`,
		`CREATE TABLE IF NOT EXISTS tlsrpt_send_day (
			day      TEXT PRIMARY KEY,
			built_at BIGINT NOT NULL,
			reports  BIGINT NOT NULL,
			skipped  BIGINT NOT NULL
		){{without_rowid}}`,
		`CREATE TABLE IF NOT EXISTS tlsrpt_send_queue (
			day           TEXT NOT NULL,
			policy_domain TEXT NOT NULL,
			uri           TEXT NOT NULL,
			report_id     TEXT NOT NULL,
			filename      TEXT NOT NULL,
			report        {{blob}} NOT NULL,
			status        TEXT NOT NULL,
			next_attempt  BIGINT NOT NULL,
			state         TEXT NOT NULL,
			updated_at    BIGINT NOT NULL,
			PRIMARY KEY (day, policy_domain, uri)
		)`,
		`CREATE INDEX IF NOT EXISTS tlsrpt_send_queue_due ON tlsrpt_send_queue (status, next_attempt)`,
		`CREATE TABLE IF NOT EXISTS tlsrpt_send_lease (
			name    TEXT PRIMARY KEY,
			holder  TEXT NOT NULL,
			expires BIGINT NOT NULL
		){{without_rowid}}`,
		`CREATE TABLE IF NOT EXISTS tlsrpt_send_suppression (
			target     TEXT PRIMARY KEY,
			manual     INTEGER NOT NULL,
			failures   BIGINT NOT NULL,
			reason     TEXT NOT NULL,
			updated_at BIGINT NOT NULL
		){{without_rowid}}`,
	}},
	// The audit log of policy mode changes (rollout_audit.go), written by
	// "mtasts promote" and "mtasts demote".
	{version: 6, stmts: []string{
		`CREATE TABLE IF NOT EXISTS tlsrpt_rollout_audit (
			id         {{serial}},
			at         BIGINT NOT NULL,
			actor      TEXT NOT NULL,
			domain     TEXT NOT NULL,
			action     TEXT NOT NULL,
			forced     INTEGER NOT NULL,
			old_id     TEXT NOT NULL,
			new_id     TEXT NOT NULL,
			old_policy TEXT NOT NULL,
			new_policy TEXT NOT NULL,
			verdict    TEXT NOT NULL,
			evidence   TEXT NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS tlsrpt_rollout_audit_domain ON tlsrpt_rollout_audit (domain, at, id)`,
	}},
	// The monitor of "mtasts serve" (monitor.go): the conditions open now,
	// one row per domain, kind and subject; the alerts sent (or still to
	// send, per channel) when one starts or ends, kept as history; the
	// last check of each domain.
	{version: 7, stmts: []string{
		`CREATE TABLE IF NOT EXISTS tlsrpt_monitor_condition (
			domain   TEXT NOT NULL,
			kind     TEXT NOT NULL,
			subject  TEXT NOT NULL,
			severity TEXT NOT NULL,
			message  TEXT NOT NULL,
			fix      TEXT NOT NULL,
			since    BIGINT NOT NULL,
			seen     BIGINT NOT NULL,
			fired    INTEGER NOT NULL,
			PRIMARY KEY (domain, kind, subject)
		){{without_rowid}}`,
		`CREATE TABLE IF NOT EXISTS tlsrpt_monitor_alert (
			id       {{serial}},
			at       BIGINT NOT NULL,
			domain   TEXT NOT NULL,
			kind     TEXT NOT NULL,
			subject  TEXT NOT NULL,
			severity TEXT NOT NULL,
			status   TEXT NOT NULL,
			message  TEXT NOT NULL,
			fix      TEXT NOT NULL,
			since    BIGINT NOT NULL,
			pending  TEXT NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS tlsrpt_monitor_alert_domain ON tlsrpt_monitor_alert (domain, at, id)`,
		`CREATE INDEX IF NOT EXISTS tlsrpt_monitor_alert_pending ON tlsrpt_monitor_alert (pending, id)`,
		`CREATE TABLE IF NOT EXISTS tlsrpt_monitor_domain (
			domain    TEXT PRIMARY KEY,
			checked   BIGINT NOT NULL,
			policy_id TEXT NOT NULL,
			mode      TEXT NOT NULL,
			findings  TEXT NOT NULL,
			verdict   TEXT NOT NULL,
			evidence  TEXT NOT NULL
		){{without_rowid}}`,
	}},
	// How far each collector of outcomes has read its source (outcomes.go
	// AddOutcomeBatch), stored with the outcomes it read.
	{version: 8, stmts: []string{
		`CREATE TABLE IF NOT EXISTS tlsrpt_out_cursor (
			name       TEXT PRIMARY KEY,
			position   TEXT NOT NULL,
			updated_at BIGINT NOT NULL
		){{without_rowid}}`,
	}},
}

// SchemaVersion is the schema version this program writes.
var SchemaVersion = migrations[len(migrations)-1].version

// migrate brings the schema to SchemaVersion, each migration in its own
// transaction.
func (s *Store) migrate(ctx context.Context) error {
	for {
		done, err := s.migrateOne(ctx)
		if err != nil || done {
			return err
		}
	}
}

// errDryRun ends the transaction of migrateDry, which inTx then rolls
// back.
var errDryRun = errors.New("dry run")

// migrateDry applies every migration left in one transaction and rolls
// it back: it finds what migrate would fail on, and changes nothing.
func (s *Store) migrateDry(ctx context.Context) error {
	err := s.inTx(ctx, "checking the schema", func(tx *writeTx) error {
		for {
			done, err := s.migrateNext(ctx, tx)
			if err != nil {
				return err
			}
			if done {
				return errDryRun
			}
		}
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	return err
}

// migrateOne applies the next migration, if any, in its own
// transaction; done reports that none was left.
func (s *Store) migrateOne(ctx context.Context) (done bool, err error) {
	err = s.inTx(ctx, "migrating schema", func(tx *writeTx) error {
		done, err = s.migrateNext(ctx, tx)
		return err
	})
	return done, err
}

// migrateNext applies the next migration, if any, in tx; done reports
// that none was left.
func (s *Store) migrateNext(ctx context.Context, tx *writeTx) (done bool, err error) {
	err = func() error {
		if s.dia.lock != "" {
			if _, err := tx.ExecContext(ctx, s.dia.lock); err != nil {
				return s.err("migrating schema", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS tlsrpt_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
			return s.err("migrating schema", err)
		}
		var current sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM tlsrpt_schema`).Scan(&current); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return s.err("reading schema version", err)
		}
		v := int(current.Int64)
		if v > SchemaVersion {
			return fmt.Errorf("%w: version %d, this program knows up to %d", ErrSchemaTooNew, v, SchemaVersion)
		}
		if v == SchemaVersion {
			done = true
			return nil
		}
		m := nextMigration(v)
		for _, stmt := range m.stmts {
			stmt = strings.NewReplacer("{{serial}}", s.dia.serial, "{{blob}}", s.dia.blob, "{{without_rowid}}", s.dia.withoutRowID).Replace(stmt)
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return s.err(fmt.Sprintf("migration %d", m.version), err)
			}
		}
		if m.fill != nil {
			if err := m.fill(s, ctx, tx); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO tlsrpt_schema (version, applied_at) VALUES ($1, $2)`, m.version, s.now().Unix())
		if err != nil {
			return s.err(fmt.Sprintf("migration %d", m.version), err)
		}
		return nil
	}()
	return done, err
}

// nextMigration returns the first migration after version v, which must
// exist (v < SchemaVersion). Versions ascend but may skip a number that a
// branch of the program being merged owns.
func nextMigration(v int) migration {
	i, _ := slices.BinarySearchFunc(migrations, v+1, func(m migration, v int) int { return m.version - v })
	return migrations[i]
}
