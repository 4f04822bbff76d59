package reportstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
)

// TestQuarantineLimits fills a bounded quarantine with garbage and with
// inputs that look like reports, across a reopening of the store: garbage
// keeps a prefix with the size and hash of the whole, the bounds hold, and
// garbage is evicted before the rest, oldest first.
func TestQuarantineLimits(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testQuarantineLimits(t, "sqlite://"+filepath.Join(t.TempDir(), "reports.db")) })
	t.Run("postgres", func(t *testing.T) { testQuarantineLimits(t, testservers.StartPostgres(t).NewDatabase(t)) })
}

func testQuarantineLimits(t *testing.T, url string) {
	ctx := context.Background()
	lim := QuarantineLimits{MaxBytes: 64 << 10, MaxEntries: 20, Prefix: 1 << 10}
	open := func() *Store {
		s, err := Open(ctx, url, Options{Now: func() time.Time { return testNow }, Quarantine: lim})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	add := func(s *Store, data []byte, garbage bool) Result {
		t.Helper()
		r, err := s.Add(ctx, &Submission{Raw: data, RawType: "application/tlsrpt+json", Source: SourceHTTPS, Garbage: garbage})
		if err != nil || r.Outcome != Quarantined {
			t.Fatalf("Add = %+v, %v", r, err)
		}
		return r
	}
	// Two report-like entries of 20 KiB, kept whole.
	var reportLike []int64
	for i := range 2 {
		reportLike = append(reportLike, add(s, bytes.Repeat([]byte{'{', byte('a' + i)}, 10<<10), false).ID)
	}
	big := bytes.Repeat([]byte("garbage!"), 8<<10) // 64 KiB
	first := add(s, big, true)
	q, err := s.GetQuarantined(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(big)
	var hash string
	if err := s.rdb.QueryRow(`SELECT sha256 FROM tlsrpt_quarantine WHERE id = $1`, first.ID).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if len(q.Raw) != lim.Prefix || q.Size != len(big) || hash != hex.EncodeToString(sum[:]) {
		t.Errorf("garbage kept %d bytes, size %d, sha256 %s; want %d, %d, of the whole", len(q.Raw), q.Size, hash, lim.Prefix, len(big))
	}
	s.Close()

	// Reopened, the store still counts what is there.
	s = open()
	defer s.Close()
	evicted := 0
	for i := range 60 {
		r := add(s, fmt.Appendf(nil, "garbage %d %s", i, bytes.Repeat([]byte("x"), 2<<10)), true)
		evicted += r.Evicted
	}
	var entries, stored, reportLikeLeft int64
	if err := s.rdb.QueryRow(`SELECT COUNT(*), SUM(stored), SUM(report_like) FROM tlsrpt_quarantine`).Scan(&entries, &stored, &reportLikeLeft); err != nil {
		t.Fatal(err)
	}
	if entries > lim.MaxEntries || stored > lim.MaxBytes || evicted == 0 {
		t.Errorf("quarantine holds %d entries, %d bytes after %d evictions; want at most %d and %d", entries, stored, evicted, lim.MaxEntries, lim.MaxBytes)
	}
	if reportLikeLeft != 2 {
		t.Errorf("%d report-like entries left, want both: garbage goes first", reportLikeLeft)
	}
	if _, err := s.GetQuarantined(ctx, first.ID); err == nil {
		t.Errorf("the oldest garbage entry was kept")
	}
	// A report-like entry that does not fit with the others evicts the
	// oldest of them once the garbage is gone.
	for i := range 3 {
		add(s, bytes.Repeat([]byte{'{', byte('k' + i)}, 12<<10), false)
	}
	if _, err := s.GetQuarantined(ctx, reportLike[0]); err == nil {
		t.Errorf("the oldest report-like entry survived a full quarantine of report-like entries")
	}
}
