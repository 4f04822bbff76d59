package reportstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// DefaultQuarantinePrefix is how much of a garbage input the quarantine
// keeps when QuarantineLimits.Prefix is 0: enough for a person to see what
// it was.
const DefaultQuarantinePrefix = 4 << 10

// QuarantineLimits bound the quarantine, which anyone who can POST to the
// report endpoint can write to. Every entry keeps the size and SHA-256 of
// the whole input. An input that does not look like a report (a
// Submission with Garbage set) keeps only its first Prefix bytes; one that
// does, such as a report with a syntax error, is kept whole, so that it
// can be fixed and imported.
//
// When an entry takes the quarantine over MaxBytes or MaxEntries, the
// oldest entries are evicted until it fits: garbage first, then the
// others. Eviction was chosen over refusal so that a flood of garbage
// cannot keep a later broken report from being kept. The bounds are
// those of the database, shared by every process writing to it, and so
// survive restarts.
type QuarantineLimits struct {
	// MaxBytes bounds the bytes kept of all entries; 0 means no bound.
	MaxBytes int64
	// MaxEntries bounds the number of entries; 0 means no bound.
	MaxEntries int64
	// Prefix is how many leading bytes of garbage are kept; 0 means
	// DefaultQuarantinePrefix.
	Prefix int
}

func (l QuarantineLimits) prefix() int {
	if l.Prefix <= 0 {
		return DefaultQuarantinePrefix
	}
	return l.Prefix
}

// quarantine keeps input that is not a report, as QuarantineLimits say.
// The same bytes arriving again count as another attempt on the same
// entry.
func (s *Store) quarantine(ctx context.Context, tx *writeTx, sub *Submission, received time.Time) (Result, error) {
	sum := sha256.Sum256(sub.Raw)
	hash := hex.EncodeToString(sum[:])
	reason := sub.Reason
	if reason == "" {
		reason = "not a TLS report"
	}
	data := nonNil(sub.Raw)
	if sub.Garbage && len(data) > s.qlim.prefix() {
		data = data[:s.qlim.prefix()]
	}
	if s.qlim.MaxBytes > 0 && int64(len(data)) > s.qlim.MaxBytes {
		data = data[:s.qlim.MaxBytes]
	}
	reportLike := 1
	if sub.Garbage {
		reportLike = 0
	}
	id, err := tx.queryID(ctx, `INSERT INTO tlsrpt_quarantine (received_at, source, origin, reason, raw_type, size, sha256, data, stored, report_like)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (sha256) DO UPDATE SET attempts = tlsrpt_quarantine.attempts + 1 RETURNING id`,
		received.Unix(), string(sub.Source), text(sub.Origin), text(reason), sub.RawType, len(sub.Raw), hash, data, len(data), reportLike)
	if err != nil {
		return Result{}, s.err("quarantining input", err)
	}
	evicted, err := s.evictQuarantine(ctx, tx, id)
	if err != nil {
		return Result{}, err
	}
	return Result{Outcome: Quarantined, ID: id, Reason: reason, Evicted: evicted}, nil
}

// evictQuarantine removes the oldest entries other than keep, garbage
// first, until the quarantine is within its limits, and returns how many
// it removed.
func (s *Store) evictQuarantine(ctx context.Context, tx *writeTx, keep int64) (int, error) {
	l := s.qlim
	if l.MaxBytes <= 0 && l.MaxEntries <= 0 {
		return 0, nil
	}
	var entries, bytes int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(stored), 0) FROM tlsrpt_quarantine`).Scan(&entries, &bytes); err != nil {
		return 0, s.err("sizing quarantine", err)
	}
	over := func() bool {
		return (l.MaxEntries > 0 && entries > l.MaxEntries) || (l.MaxBytes > 0 && bytes > l.MaxBytes)
	}
	if !over() {
		return 0, nil
	}
	st, err := tx.stmt(ctx, `SELECT id, stored FROM tlsrpt_quarantine WHERE id <> $1 ORDER BY report_like, id`)
	if err != nil {
		return 0, s.err("choosing quarantine entries to evict", err)
	}
	rows, err := st.QueryContext(ctx, keep)
	if err != nil {
		return 0, s.err("choosing quarantine entries to evict", err)
	}
	var victims []int64
	for over() && rows.Next() {
		var id, stored int64
		if err := rows.Scan(&id, &stored); err != nil {
			rows.Close()
			return 0, s.err("choosing quarantine entries to evict", err)
		}
		victims = append(victims, id)
		entries, bytes = entries-1, bytes-stored
	}
	rows.Close()
	if err := s.rowsErr("choosing quarantine entries to evict", rows); err != nil {
		return 0, err
	}
	for _, id := range victims {
		if err := tx.exec(ctx, `DELETE FROM tlsrpt_quarantine WHERE id = $1`, id); err != nil {
			return 0, s.err("evicting quarantine entry", err)
		}
	}
	return len(victims), nil
}
