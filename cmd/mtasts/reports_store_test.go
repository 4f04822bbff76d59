package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportsStoreCreatedOnlyWhereAsked checks that a mistyped --db fails
// naming the missing directory and creates nothing, while the data
// directory is created (mode 0700) with a store only its owner reads.
func TestReportsStoreCreatedOnlyWhereAsked(t *testing.T) {
	dir := t.TempDir()
	r := runCmd(t, nil, "", "reports", "list", "--db", "sqlite://"+filepath.Join(dir, "nonexistent", "dir", "x.db"))
	if r.code != exitCannotRun || !strings.Contains(r.stderr, filepath.Join(dir, "nonexistent", "dir")+" does not exist") {
		t.Errorf("mistyped --db: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "nonexistent")); !os.IsNotExist(err) {
		t.Errorf("mistyped --db created a directory: %v", err)
	}

	data := filepath.Join(dir, "data", "mtasts")
	if r := runCmd(t, nil, "", "reports", "list", "--data-dir", data); r.code != exitOK {
		t.Fatalf("--data-dir: exit %d\n%s", r.code, r.stderr)
	}
	for path, mode := range map[string]os.FileMode{data: 0o700 | os.ModeDir, filepath.Join(data, "reports.db"): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v, %v; want mode %v", path, fi.Mode(), err, mode)
		}
	}
}

// sqlite:relative/path, as the error messages suggest, opens a store and
// a cache in the working directory.
func TestSQLiteRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if r := runCmd(t, nil, "", "reports", "summary", "--db", "sqlite:reports.db"); r.code != exitOK || r.stdout != "no reports\n" {
		t.Errorf("reports summary --db sqlite:reports.db: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, nil, "", "daemon", "--cache", "sqlite:cache.db", "--check", "--listen", "127.0.0.1:0"); r.code != exitOK {
		t.Errorf("daemon --cache sqlite:cache.db --check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "cache.db")); err == nil {
		t.Errorf("daemon --check created the cache")
	}
	if r := runCmd(t, nil, "", "cache", "list", "--cache", "sqlite:cache.db"); r.code != exitOK {
		t.Errorf("cache list --cache sqlite:cache.db: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{"reports.db", "cache.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s not in the working directory: %v", name, err)
		}
	}
}
