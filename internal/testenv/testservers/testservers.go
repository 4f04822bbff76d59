// Package testservers starts real, throwaway Redis and PostgreSQL servers
// for tests: each listens on a free port of 127.0.0.1, keeps its data in a
// temporary directory and is stopped by t.Cleanup.
//
// When the server binaries are not installed (Debian packages
// redis-server and postgresql), the test is skipped with a message saying
// what to install, unless the environment variable MTASTS_REQUIRE_SERVICES
// is 1, as in CI: then it fails.
package testservers

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing server into
// a test failure instead of a skip.
const RequireEnv = "MTASTS_REQUIRE_SERVICES"

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 30 * time.Second

// missing skips or fails t because a server binary is not installed.
func missing(t testing.TB, what, pkg string) {
	t.Helper()
	Unavailable(t, fmt.Sprintf("%s not found; install it with `apt-get install -y %s` to run this test", what, pkg))
}

// Unavailable skips t because something it needs (a server, a program,
// root) is not available here, saying why; when RequireEnv is "1", as in
// CI, which installs everything, it fails t instead.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1 requires it)", why, RequireEnv)
	}
	t.Skip(why)
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testservers: finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// server is a running server process and its log file.
type server struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// start runs cmd with its output in logPath and stops it at cleanup with
// stop, then kill.
func start(t testing.TB, cmd *exec.Cmd, logPath string, stop os.Signal) *server {
	t.Helper()
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("testservers: %v", err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("testservers: starting %s: %v", cmd.Path, err)
	}
	s := &server{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		log.Close()
		close(s.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(stop)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-s.exited
		}
	})
	return s
}

// waitReady calls ready until it succeeds, the process exits or
// startTimeout passes; then it fails t with the server's log.
func (s *server) waitReady(t testing.TB, name string, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		err := ready()
		if err == nil {
			return
		}
		select {
		case <-s.exited:
			t.Fatalf("testservers: %s exited (%v) before accepting connections; log:\n%s", name, s.waitErr, s.log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("testservers: %s not ready after %v: %v; log:\n%s", name, startTimeout, err, s.log())
		}
	}
}

// log returns the server's output so far.
func (s *server) log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// lookPath finds a program in PATH or in one of the glob patterns, the
// last match winning (so the newest versioned directory).
func lookPath(name string, globs ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	found := ""
	for _, g := range globs {
		matches, _ := filepath.Glob(g)
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
				found = m
			}
		}
	}
	return found
}
