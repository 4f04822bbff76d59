package reportstore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
)

// Check finds what Open would fail on, and changes nothing: no SQLite
// file is created, no PostgreSQL table is left behind.
func TestCheck(t *testing.T) {
	pg := testservers.StartPostgres(t)
	tooNew := func(t *testing.T, url string) {
		s := openURL(t, url)
		if _, err := s.db.Exec(`INSERT INTO tlsrpt_schema (version, applied_at) VALUES (99, 0)`); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		url     func(t *testing.T, dir string) string
		prepare func(t *testing.T, url string)
		want    string // in the error; "" for none
		wantIs  error
	}{
		{name: "new sqlite file", url: func(_ *testing.T, dir string) string { return "sqlite:" + filepath.Join(dir, "r.db") }},
		{name: "existing sqlite store", url: func(_ *testing.T, dir string) string { return "sqlite:" + filepath.Join(dir, "r.db") },
			prepare: func(t *testing.T, url string) { openURL(t, url).Close() }},
		{name: "sqlite directory missing", url: func(_ *testing.T, dir string) string { return "sqlite:" + filepath.Join(dir, "no", "r.db") },
			want: "does not exist"},
		{name: "sqlite schema too new", url: func(_ *testing.T, dir string) string { return "sqlite:" + filepath.Join(dir, "r.db") },
			prepare: tooNew, wantIs: ErrSchemaTooNew},
		{name: "sqlite URL with a host", url: func(*testing.T, string) string { return "sqlite://host/r.db" }, want: "sqlite:///absolute/path"},
		{name: "unknown scheme", url: func(*testing.T, string) string { return "mysql://db/x" }, want: "unknown scheme"},
		{name: "new postgres database", url: func(t *testing.T, _ string) string { return pg.NewDatabase(t) }},
		{name: "postgres schema too new", url: func(t *testing.T, _ string) string { return pg.NewDatabase(t) }, prepare: tooNew, wantIs: ErrSchemaTooNew},
		{name: "postgres database missing", url: func(*testing.T, string) string { return pg.URL("nonexistent") }, want: "nonexistent"},
		{name: "postgres unreachable", url: func(*testing.T, string) string {
			return "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=5"
		},
			want: "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			url := tt.url(t, dir)
			if tt.prepare != nil {
				tt.prepare(t, url)
			}
			before := snapshot(t, dir, url)
			err := Check(context.Background(), url)
			switch {
			case tt.wantIs != nil && !errors.Is(err, tt.wantIs):
				t.Errorf("Check = %v, want %v", err, tt.wantIs)
			case tt.wantIs == nil && tt.want == "" && err != nil:
				t.Errorf("Check = %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Check = %v, want an error with %q", err, tt.want)
			}
			if after := snapshot(t, dir, url); after != before {
				t.Errorf("Check changed the store: before %s, after %s", before, after)
			}
		})
	}
}

// snapshot describes what a check must not change: the files of dir and,
// for a PostgreSQL database that exists, its tables.
func snapshot(t *testing.T, dir, url string) string {
	t.Helper()
	var b strings.Builder
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b.WriteString(e.Name() + " ")
	}
	if !strings.HasPrefix(url, "postgres:") || strings.Contains(url, "127.0.0.1:1/") || strings.Contains(url, "/nonexistent") {
		return b.String()
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		b.WriteString(name + " ")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
