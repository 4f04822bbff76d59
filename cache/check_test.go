package cache

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
)

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// Check accepts what Open can use and refuses what it cannot, creating
// no file and no table.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cacheDB := filepath.Join(dir, "cache.db")
	c := openURL(t, "sqlite://"+cacheDB, nil)
	c.Close()
	empty, notDB := filepath.Join(dir, "empty.db"), filepath.Join(dir, "text.db")
	for name, data := range map[string]string{empty: "", notDB: "not a database"} {
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A file where a directory should be: no user, root included, can
	// create the cache below it.
	blocked := filepath.Join(dir, "blocked")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	pg := testservers.StartPostgres(t)
	r := testservers.StartRedis(t)
	pgURL := pg.NewDatabase(t)
	before := listDir(t, dir)

	for _, tc := range []struct {
		url  string
		want string // "" for no error
	}{
		{"memory:", ""},
		{"memory:?size=0", "size must be a positive number"},
		{"sqlite://" + filepath.Join(dir, "new.db"), ""},
		{"sqlite://" + cacheDB, ""},
		{"sqlite://" + empty, ""},
		{"sqlite://" + notDB, "not an SQLite database"},
		{"sqlite://" + filepath.Join(dir, "no", "x.db"), "does not exist"},
		{"sqlite://" + filepath.Join(blocked, "x.db"), "not a directory"},
		{r.URL(0), ""},
		{"redis://127.0.0.1:1/0", "redis 127.0.0.1:1"},
		{pgURL, ""},
		{"postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=1", "connect"},
		{"ftp://x", "unknown scheme"},
	} {
		err := Check(ctx, tc.url)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Check(%s) = %v, want %q", tc.url, err, tc.want)
		}
	}
	if after := listDir(t, dir); !slices.Equal(after, before) {
		t.Errorf("Check changed the directory: %v, was %v", after, before)
	}
	db, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'mtasts_%'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("Check created %d tables (%v), want none", n, err)
	}
}
