package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mtasts/mtasts/sts"
)

// sqlSchema creates the tables of the SQL backends. Times are Unix
// nanoseconds (0 for none), which SQLite and PostgreSQL store alike. The
// table names carry the project's prefix so that the cache can share a
// database with other data.
var sqlSchema = []string{
	`CREATE TABLE IF NOT EXISTS mtasts_policy (
		domain     TEXT PRIMARY KEY,
		id         TEXT NOT NULL,
		policy     TEXT NOT NULL,
		fetched    BIGINT NOT NULL,
		expires    BIGINT NOT NULL,
		checked    BIGINT NOT NULL,
		refresh_at BIGINT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS mtasts_policy_refresh_at ON mtasts_policy (refresh_at)`,
	`CREATE TABLE IF NOT EXISTS mtasts_negative (
		domain  TEXT PRIMARY KEY,
		kind    TEXT NOT NULL,
		id      TEXT NOT NULL,
		reason  TEXT NOT NULL,
		created BIGINT NOT NULL,
		expires BIGINT NOT NULL
	)`,
	// Operators' overrides and the last use of each domain (override.go).
	`CREATE TABLE IF NOT EXISTS mtasts_override (
		domain  TEXT PRIMARY KEY,
		mode    TEXT NOT NULL,
		reason  TEXT NOT NULL,
		actor   TEXT NOT NULL,
		created BIGINT NOT NULL,
		expires BIGINT NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS mtasts_used (
		domain TEXT PRIMARY KEY,
		used   BIGINT NOT NULL
	)`,
}

// sqlStore is the backend over database/sql shared by SQLite and
// PostgreSQL; both understand the $n placeholders and upserts used here.
// The schema is created on first use, and again on later uses until that
// succeeds, so that a server that is down when the process starts only
// makes the store unavailable for a while.
type sqlStore struct {
	db   *sql.DB
	now  func() time.Time
	name string // "sqlite" or "postgres", for errors
	lock string // statement that serialises schema creation, or ""

	mu    sync.Mutex
	ready bool
}

// init creates the schema if that has not succeeded yet, inside a
// transaction that begins with s.lock so that processes starting together
// do not race.
func (s *sqlStore) init(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	tx, err := s.createSchema(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := tx.Commit(); err != nil {
		return s.err("creating schema", err)
	}
	s.ready = true
	return nil
}

// createSchema begins a transaction with s.lock and creates the schema
// in it; the caller commits or rolls back.
func (s *sqlStore) createSchema(ctx context.Context) (*sql.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.err("creating schema", err)
	}
	stmts := sqlSchema
	if s.lock != "" {
		stmts = append([]string{s.lock}, stmts...)
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			_ = tx.Rollback()
			return nil, s.err("creating schema", err)
		}
	}
	return tx, nil
}

// exec runs a statement after init.
func (s *sqlStore) exec(ctx context.Context, op, query string, args ...any) error {
	if err := s.init(ctx); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, query, args...); err != nil {
		return s.err(op, err)
	}
	return nil
}

// Ping checks that the database answers and holds the schema.
func (s *sqlStore) Ping(ctx context.Context) error { return s.init(ctx) }

func (s *sqlStore) err(op string, err error) error {
	return fmt.Errorf("cache: %s: %s: %w", s.name, op, err)
}

const policyColumns = `domain, id, policy, fetched, expires, checked, refresh_at`

// scanEntry reads a row of policyColumns.
func scanEntry(row interface{ Scan(...any) error }) (*Entry, error) {
	var e Entry
	var fetched, expires, checked, refreshAt int64
	if err := row.Scan(&e.Domain, &e.ID, &e.Text, &fetched, &expires, &checked, &refreshAt); err != nil {
		return nil, err
	}
	e.Fetched, e.Expires, e.Checked, e.RefreshAt = fromUnixNano(fetched), fromUnixNano(expires), fromUnixNano(checked), fromUnixNano(refreshAt)
	p, err := sts.ParsePolicy([]byte(e.Text))
	if err != nil {
		return nil, fmt.Errorf("stored policy of %s: %w", e.Domain, err)
	}
	e.Policy = p
	return &e, nil
}

// Get implements Cache.
func (s *sqlStore) Get(ctx context.Context, domain string) (*Entry, error) {
	if err := s.init(ctx); err != nil {
		return nil, err
	}
	row := s.db.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM mtasts_policy WHERE domain = $1 AND expires > $2`,
		domain, s.now().UnixNano())
	e, err := scanEntry(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrNotFound
	case err != nil:
		return nil, s.err("get", err)
	}
	return e, nil
}

// Put implements Cache.
func (s *sqlStore) Put(ctx context.Context, e *Entry) error {
	c, err := prepare(e)
	if err != nil {
		return err
	}
	if c.Expired(s.now()) {
		return s.Delete(ctx, c.Domain)
	}
	return s.exec(ctx, "put", `INSERT INTO mtasts_policy (`+policyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (domain) DO UPDATE SET id = excluded.id, policy = excluded.policy, fetched = excluded.fetched,
		expires = excluded.expires, checked = excluded.checked, refresh_at = excluded.refresh_at`,
		c.Domain, c.ID, c.Text, unixNano(c.Fetched), unixNano(c.Expires), unixNano(c.Checked), unixNano(c.RefreshAt))
}

// Delete implements Cache.
func (s *sqlStore) Delete(ctx context.Context, domain string) error {
	return s.exec(ctx, "delete", `DELETE FROM mtasts_policy WHERE domain = $1`, domain)
}

// GetNegative implements Cache.
func (s *sqlStore) GetNegative(ctx context.Context, domain string) (*Negative, error) {
	if err := s.init(ctx); err != nil {
		return nil, err
	}
	var n Negative
	var created, expires int64
	err := s.db.QueryRowContext(ctx, `SELECT domain, kind, id, reason, created, expires FROM mtasts_negative
		WHERE domain = $1 AND expires > $2`, domain, s.now().UnixNano()).
		Scan(&n.Domain, &n.Kind, &n.ID, &n.Reason, &created, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrNotFound
	case err != nil:
		return nil, s.err("get negative", err)
	}
	n.Created, n.Expires = fromUnixNano(created), fromUnixNano(expires)
	return &n, nil
}

// PutNegative implements Cache.
func (s *sqlStore) PutNegative(ctx context.Context, n *Negative) error {
	c, err := prepareNegative(n)
	if err != nil {
		return err
	}
	if c.Expired(s.now()) {
		return s.DeleteNegative(ctx, c.Domain)
	}
	return s.exec(ctx, "put negative", `INSERT INTO mtasts_negative (domain, kind, id, reason, created, expires)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (domain) DO UPDATE SET kind = excluded.kind, id = excluded.id, reason = excluded.reason,
		created = excluded.created, expires = excluded.expires`,
		c.Domain, string(c.Kind), c.ID, c.Reason, unixNano(c.Created), unixNano(c.Expires))
}

// DeleteNegative implements Cache.
func (s *sqlStore) DeleteNegative(ctx context.Context, domain string) error {
	return s.exec(ctx, "delete negative", `DELETE FROM mtasts_negative WHERE domain = $1`, domain)
}

// Due implements Cache. It first purges expired entries, overrides and
// the uses of domains without a policy.
func (s *sqlStore) Due(ctx context.Context, before time.Time, limit int) ([]*Entry, error) {
	now := s.now().UnixNano()
	for _, q := range []string{`DELETE FROM mtasts_policy WHERE expires <= $1`, `DELETE FROM mtasts_negative WHERE expires <= $1`,
		`DELETE FROM mtasts_override WHERE expires <= $1`} {
		if err := s.exec(ctx, "purge", q, now); err != nil {
			return nil, err
		}
	}
	if err := s.exec(ctx, "purge", usedPurge); err != nil {
		return nil, err
	}
	return s.queryEntries(ctx, "due", `SELECT `+policyColumns+` FROM mtasts_policy
		WHERE refresh_at <> 0 AND refresh_at <= $1 ORDER BY refresh_at LIMIT $2`, unixNano(before), max(limit, 0))
}

// queryEntries returns the entries a query of policyColumns selects.
func (s *sqlStore) queryEntries(ctx context.Context, op, query string, args ...any) ([]*Entry, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	out := []*Entry{}
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, s.err(op, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.err(op, err)
	}
	return out, nil
}

// Close implements Cache.
func (s *sqlStore) Close() error { return s.db.Close() }
