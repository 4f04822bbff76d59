package reportstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/internal/testenv/testservers"
)

func TestRevokedSessionsSQLite(t *testing.T) {
	testRevokedSessions(t, "sqlite://"+filepath.Join(t.TempDir(), "reports.db"))
}

func TestRevokedSessionsPostgres(t *testing.T) {
	testRevokedSessions(t, testservers.StartPostgres(t).NewDatabase(t))
}

// testRevokedSessions checks the revoked sessions of the store at url:
// what one Store records, another over the same database (a restart, or a
// second process) sees, until the records expire.
func testRevokedSessions(t *testing.T, url string) {
	ctx := context.Background()
	clk := testclock.New(testNow)
	open := func() *Store {
		t.Helper()
		s, err := Open(ctx, url, Options{Now: clk.Now})
		if err != nil {
			t.Fatalf("Open(%q): %v", url, err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	revoked := func(s *Store, id string, want bool) {
		t.Helper()
		got, err := s.SessionRevoked(ctx, id)
		if err != nil || got != want {
			t.Errorf("SessionRevoked(%q) = %v, %v; want %v", id, got, err, want)
		}
	}
	revoke := func(s *Store, id string, expires time.Time) {
		t.Helper()
		if err := s.RevokeSession(ctx, id, expires); err != nil {
			t.Fatalf("RevokeSession(%q): %v", id, err)
		}
	}

	first, second := open(), open()
	revoked(first, "a", false)
	revoke(first, "a", testNow.Add(time.Hour))
	revoke(first, "b", testNow.Add(3*time.Hour))
	// Revoking again keeps the later expiry.
	revoke(second, "b", testNow.Add(time.Hour))
	revoked(first, "a", true)
	revoked(second, "a", true)
	revoked(second, "c", false)
	if err := first.RevokeSession(ctx, "", testNow.Add(time.Hour)); err == nil {
		t.Error("RevokeSession accepted an empty id")
	}

	// A store opened again, as after a restart, still has them.
	first.Close()
	again := open()
	revoked(again, "a", true)
	revoked(again, "b", true)

	// Records go once they expire, on the next revocation.
	clk.Advance(2 * time.Hour)
	revoke(again, "c", testNow.Add(4*time.Hour))
	revoked(again, "a", false)
	revoked(second, "b", true)
	revoked(second, "c", true)
	var n int
	if err := again.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM tlsrpt_session_revoked`).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d records left (%v), want 2", n, err)
	}
}
