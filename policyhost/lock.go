package policyhost

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFile is the name of the lock file in the data directory.
const LockFile = "serve.lock"

// ErrDataDirLocked is the error of LockDataDir when another process holds
// the lock of the data directory.
var ErrDataDirLocked = errors.New("data directory in use")

// errLocked is the error of lockFile when another open file holds the
// lock.
var errLocked = errors.New("locked")

// DataDirLock is the exclusive lock of a data directory, held from
// LockDataDir to Release.
type DataDirLock struct {
	f *os.File
}

// LockDataDir takes the exclusive lock of the data directory dir (created
// if missing), so that a single server writes its state file and ACME
// files: two servers writing policies.json in turn would hand out policy
// ids that the other forgets. The lock is advisory (flock(2) on LockFile,
// which holds the pid of its holder) and ends with the process at the
// latest. When another process holds it, LockDataDir fails at once with
// an error wrapping ErrDataDirLocked that names dir and that process.
func LockDataDir(dir string) (*DataDirLock, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs // for the message
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if !errors.Is(err, errLocked) {
			return nil, fmt.Errorf("data directory lock %s: %w", path, err)
		}
		holder := "another process" // that has not written its pid yet
		if pid := lockHolderPID(path); pid != 0 {
			holder = "process " + strconv.Itoa(pid)
		}
		return nil, fmt.Errorf("%w: %s is locked by %s (%s): is another mtasts serve running with this data directory?", ErrDataDirLocked, dir, holder, path)
	}
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory lock %s: %w", path, err)
	}
	return &DataDirLock{f: f}, nil
}

// DataDirHolder tells whether another process holds the lock of the data
// directory dir, and its pid if it wrote one (else 0), without taking the
// lock or creating anything: for a check that runs beside the server.
func DataDirHolder(dir string) (pid int, held bool) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, false // no lock file: nobody holds it
	}
	defer f.Close() // releases a lock taken here
	if err := lockFile(f); !errors.Is(err, errLocked) {
		return 0, false
	}
	return lockHolderPID(path), true
}

// lockHolderPID returns the pid written in the lock file at path, or 0.
func lockHolderPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// Release gives up the lock. The file stays: removing it would let a
// process that opened it before the removal lock a file nobody else sees.
func (l *DataDirLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close() // closing the only descriptor releases the flock
	l.f = nil
	return err
}
