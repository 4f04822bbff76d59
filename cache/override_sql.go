package cache

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// PutOverride implements OverrideStore.
func (s *sqlStore) PutOverride(ctx context.Context, o *Override) error {
	c, err := ValidateOverride(o)
	if err != nil {
		return err
	}
	return s.exec(ctx, "put override", `INSERT INTO mtasts_override (domain, mode, reason, actor, created, expires)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (domain) DO UPDATE SET mode = excluded.mode, reason = excluded.reason, actor = excluded.actor,
		created = excluded.created, expires = excluded.expires`,
		c.Domain, string(c.Mode), c.Reason, c.Actor, unixNano(c.Created), unixNano(c.Expires))
}

// DeleteOverride implements OverrideStore.
func (s *sqlStore) DeleteOverride(ctx context.Context, domain string) error {
	if err := s.init(ctx); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM mtasts_override WHERE domain = $1 AND expires > $2`, domain, s.now().UnixNano())
	if err != nil {
		return s.err("delete override", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNotFound
	}
	return nil
}

// usedPurge removes, in Due, the uses of domains without a policy: they
// matter again only once a lookup fetches one, which records a use.
const usedPurge = `DELETE FROM mtasts_used WHERE domain NOT IN (SELECT domain FROM mtasts_policy)`

// Overrides implements OverrideStore. It only reads (each daemon calls it
// every few seconds); Due purges the expired overrides.
func (s *sqlStore) Overrides(ctx context.Context) ([]*Override, error) {
	if err := s.init(ctx); err != nil {
		return nil, err
	}
	now := s.now().UnixNano()
	rows, err := s.db.QueryContext(ctx, `SELECT domain, mode, reason, actor, created, expires FROM mtasts_override
		WHERE expires > $1 ORDER BY domain`, now)
	if err != nil {
		return nil, s.err("overrides", err)
	}
	defer rows.Close()
	out := []*Override{}
	for rows.Next() {
		var o Override
		var created, expires int64
		if err := rows.Scan(&o.Domain, (*string)(&o.Mode), &o.Reason, &o.Actor, &created, &expires); err != nil {
			return nil, s.err("overrides", err)
		}
		o.Created, o.Expires = fromUnixNano(created), fromUnixNano(expires)
		out = append(out, &o)
	}
	if err := rows.Err(); err != nil {
		return nil, s.err("overrides", err)
	}
	return out, nil
}

// MarkUsed implements UsageStore.
func (s *sqlStore) MarkUsed(ctx context.Context, domain string, t time.Time) error {
	return s.exec(ctx, "mark used", `INSERT INTO mtasts_used (domain, used) VALUES ($1, $2)
		ON CONFLICT (domain) DO UPDATE SET used = excluded.used WHERE mtasts_used.used < excluded.used`,
		domain, unixNano(t))
}

// LastUsed implements UsageStore.
func (s *sqlStore) LastUsed(ctx context.Context, domains []string) (map[string]time.Time, error) {
	if err := s.init(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(domains))
	// One query per domain: refresh passes are small and run once a
	// minute, and this keeps to the SQL both backends understand.
	for _, d := range domains {
		var used int64
		err := s.db.QueryRowContext(ctx, `SELECT used FROM mtasts_used WHERE domain = $1`, d).Scan(&used)
		switch {
		case err == nil:
			out[d] = fromUnixNano(used)
		case !errors.Is(err, sql.ErrNoRows):
			return nil, s.err("last used", err)
		}
	}
	return out, nil
}

// ForgetUsed implements UsageStore.
func (s *sqlStore) ForgetUsed(ctx context.Context, domain string) error {
	return s.exec(ctx, "forget used", `DELETE FROM mtasts_used WHERE domain = $1`, domain)
}

// List implements Lister.
func (s *sqlStore) List(ctx context.Context) ([]*Entry, error) {
	if err := s.init(ctx); err != nil {
		return nil, err
	}
	return s.queryEntries(ctx, "list", `SELECT `+policyColumns+` FROM mtasts_policy WHERE expires > $1 ORDER BY domain`,
		s.now().UnixNano())
}

// Purge implements Lister.
func (s *sqlStore) Purge(ctx context.Context) (int, error) {
	if err := s.init(ctx); err != nil {
		return 0, err
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM mtasts_policy WHERE expires > $1`, s.now().UnixNano())
	if err != nil {
		return 0, s.err("purge", err)
	}
	n, _ := res.RowsAffected()
	for _, q := range []string{`DELETE FROM mtasts_policy`, `DELETE FROM mtasts_negative`} {
		if err := s.exec(ctx, "purge", q); err != nil {
			return 0, err
		}
	}
	return int(n), nil
}
