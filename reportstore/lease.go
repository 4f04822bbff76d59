package reportstore

import (
	"context"
	"time"
)

// A lease names the one process that does a job for all that share the
// store: when several daemons report from one store, exactly one builds
// and sends each day's reports (RFC 8460 §4.1 asks for one report per
// domain and day). A lease is a row with its holder and expiry, which
// works the same on SQLite and PostgreSQL; its holder renews it while it
// works, and a holder that crashed loses it once it expires.

// AcquireLease takes or renews the lease name for holder until ttl from
// now, and reports whether holder has it: false while another holder's
// lease has not expired.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := s.now()
	return s.changed(ctx, "taking a lease", `INSERT INTO tlsrpt_send_lease AS l (name, holder, expires) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
		WHERE l.expires <= $4 OR l.holder = excluded.holder`,
		name, holder, now.Add(ttl).Unix(), now.Unix())
}

// ReleaseLease gives up the lease name if holder has it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.inTx(ctx, "releasing a lease", func(tx *writeTx) error {
		if err := tx.exec(ctx, `DELETE FROM tlsrpt_send_lease WHERE name = $1 AND holder = $2`, name, holder); err != nil {
			return s.err("releasing a lease", err)
		}
		return nil
	})
}
