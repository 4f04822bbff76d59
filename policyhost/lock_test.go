//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly || solaris

package policyhost

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A second server on the same data directory is refused at once, with
// the directory and the holder's pid; after Release the lock is free.
// flock(2) locks belong to the open file, so the second attempt conflicts
// even from the same process.
func TestLockDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(os.Getpid())
	if b, err := os.ReadFile(filepath.Join(dir, LockFile)); err != nil || strings.TrimSpace(string(b)) != pid {
		t.Errorf("lock file holds %q, %v; want the pid %s", b, err, pid)
	}

	second, err := LockDataDir(dir)
	if err == nil {
		second.Release()
		t.Fatal("a second lock of the same directory succeeded")
	}
	if !errors.Is(err, ErrDataDirLocked) {
		t.Errorf("error %v does not wrap ErrDataDirLocked", err)
	}
	for _, want := range []string{dir, "process " + pid} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}

	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	third, err := LockDataDir(dir)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	if err := third.Release(); err != nil {
		t.Fatal(err)
	}
}
