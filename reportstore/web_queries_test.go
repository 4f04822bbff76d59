package reportstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/tlsrpt"
)

// testWebQueries checks the queries of web_queries.go on a fresh store.
func testWebQueries(t *testing.T, open opener) {
	t.Run("Version", func(t *testing.T) {
		ctx := context.Background()
		s := open(t)
		version := func() Version {
			t.Helper()
			v, err := s.Version(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		if v := version(); v != (Version{}) {
			t.Errorf("version of an empty store = %+v", v)
		}
		rep := newReport(t, "Google Inc.", "g1", "2026-11-20", "example.com", 10,
			failure(tlsrpt.ResultCertificateExpired, "mx1.example.com", "192.0.2.25", 1))
		first := mustAdd(t, s, submission(rep), Accepted)
		v1 := version()
		if v1 != (Version{LastID: first.ID, Count: 1}) {
			t.Errorf("version after one report = %+v, want ID %d", v1, first.ID)
		}
		// A duplicate and a quarantined input change no figure.
		mustAdd(t, s, submission(rep), Duplicate)
		mustAdd(t, s, &Submission{Raw: []byte("junk"), Reason: "not JSON"}, Quarantined)
		if v := version(); v != v1 {
			t.Errorf("version changed to %+v by a duplicate or quarantine", v)
		}
		second := mustAdd(t, s, submission(newReport(t, "Google Inc.", "g2", "2026-11-21", "example.com", 5)), Accepted)
		if v := version(); v != (Version{LastID: second.ID, Count: 2}) {
			t.Errorf("version after two reports = %+v", v)
		}
	})
}

func TestWebQueriesSQLite(t *testing.T) {
	testWebQueries(t, func(t *testing.T) *Store {
		return openURL(t, "sqlite://"+filepath.Join(t.TempDir(), "reports.db"))
	})
}

func TestWebQueriesPostgres(t *testing.T) {
	pg := testservers.StartPostgres(t)
	testWebQueries(t, func(t *testing.T) *Store { return openURL(t, pg.NewDatabase(t)) })
}
