package reportstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
)

func openURL(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url, Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatalf("Open(%q): %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T) {
	runSuite(t, func(t *testing.T) *Store {
		return openURL(t, "sqlite://"+filepath.Join(t.TempDir(), "reports.db"))
	})
}

func TestPostgres(t *testing.T) {
	pg := testservers.StartPostgres(t)
	runSuite(t, func(t *testing.T) *Store { return openURL(t, pg.NewDatabase(t)) })
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	url := "sqlite://" + filepath.Join(t.TempDir(), "sub", "reports.db")
	s := openURL(t, url)
	// Opening again finds the schema current.
	s2 := openURL(t, url)
	s2.Close()
	if _, err := s.db.Exec(`INSERT INTO tlsrpt_schema (version, applied_at) VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, url, Options{}); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open of a newer schema = %v, want ErrSchemaTooNew", err)
	}
}

func TestOpenBadURL(t *testing.T) {
	for _, url := range []string{"mysql://x/y", "sqlite://host/x.db", "sqlite:", "postgres://%zz"} {
		if s, err := Open(context.Background(), url, Options{}); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", url)
		}
	}
}
