package reportstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
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
	url := "sqlite://" + filepath.Join(t.TempDir(), "reports.db")
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

// TestOpenSQLiteFile checks that a store is created only where asked: a
// mistyped path fails, naming the missing directory, and creates nothing;
// a new store is readable by its owner only.
func TestOpenSQLiteFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nonexistent", "dir")
	s, err := Open(context.Background(), "sqlite://"+filepath.Join(missing, "x.db"), Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open in a missing directory succeeded")
	}
	if !strings.Contains(err.Error(), missing) {
		t.Errorf("error %q does not name %s", err, missing)
	}
	if _, err := os.Stat(filepath.Join(dir, "nonexistent")); !os.IsNotExist(err) {
		t.Errorf("Open created a directory: %v", err)
	}
	path := filepath.Join(dir, "reports.db")
	openURL(t, "sqlite://"+path)
	for _, f := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", f, fi.Mode(), err)
		}
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
