package sqlitefile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepare(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store.db")
	if err := Prepare(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != Mode || fi.Size() != 0 {
		t.Fatalf("created %v, %v; want an empty file of mode %v", fi.Mode(), err, Mode)
	}
	// An existing file is kept, mode and content.
	if err := os.WriteFile(path, []byte("data"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := Prepare(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 || fi.Size() != 4 {
		t.Errorf("existing file changed: %v, %v", fi.Mode(), err)
	}

	missing := filepath.Join(dir, "no", "such", "dir")
	err = Prepare(filepath.Join(missing, "x.db"))
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Prepare in a missing directory = %v, want an error naming %s", err, missing)
	}
	if _, err := os.Stat(filepath.Join(dir, "no")); !os.IsNotExist(err) {
		t.Errorf("Prepare created a directory: %v", err)
	}
	if err := Prepare(filepath.Join(path, "x.db")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Prepare below a file = %v", err)
	}
}
