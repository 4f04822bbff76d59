package reportstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// The dashboard of the reports (package web) keeps its sessions in signed
// cookies, and the sessions signed out here: a cookie carries no state a
// server can take back, so a signed-out session stays refused only while
// a record says so. Keeping the record in the store, rather than in the
// memory of one process, makes a sign-out hold after a restart and in
// every process that serves the dashboard over the same store and session
// key.

// RevokeSession records that the session named id was signed out: until
// expires, when the session would have ended anyway, SessionRevoked
// reports it. The id is opaque to the store; the dashboard derives it from
// the session so that the table reveals nothing a cookie could be made
// from. Recording an id again keeps the later expiry. Records whose expiry
// has passed by the store's clock are deleted on the way.
func (s *Store) RevokeSession(ctx context.Context, id string, expires time.Time) error {
	const op = "revoking a dashboard session"
	if id == "" {
		return s.err(op, errors.New("empty session id"))
	}
	return s.inTx(ctx, op, func(tx *writeTx) error {
		if err := tx.exec(ctx, `DELETE FROM tlsrpt_session_revoked WHERE expires <= $1`, s.now().Unix()); err != nil {
			return s.err(op, err)
		}
		err := tx.exec(ctx, `INSERT INTO tlsrpt_session_revoked (id, expires) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET expires = excluded.expires WHERE excluded.expires > tlsrpt_session_revoked.expires`, id, expires.Unix())
		if err != nil {
			return s.err(op, err)
		}
		return nil
	})
}

// SessionRevoked reports whether RevokeSession recorded id. A record is
// kept at least until its expiry.
func (s *Store) SessionRevoked(ctx context.Context, id string) (bool, error) {
	var one int
	err := s.rdb.QueryRowContext(ctx, `SELECT 1 FROM tlsrpt_session_revoked WHERE id = $1`, id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, s.err("reading the revoked dashboard sessions", err)
	}
	return true, nil
}
