package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mtastsBinary builds mtasts once for the tests that run it as a process.
var mtastsBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "mtasts-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "mtasts")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

// waitFor polls cond until it holds, or fails the test after a minute
// (a hang, not a slow machine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitSyscall waits until a thread of process pid blocks in the system
// call whose /proc/PID/task/TID/syscall line starts with prefix (Linux),
// such as "0 0x0 " for a read of standard input.
func waitSyscall(t *testing.T, pid int, what, prefix string) {
	t.Helper()
	waitFor(t, what, func() bool {
		files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && strings.HasPrefix(string(b), prefix) {
				return true
			}
		}
		return false
	})
}

// TestImportFIFOStopsOnSignal imports from a named pipe that nobody
// writes, and from one that a writer holds open without writing: SIGTERM
// and SIGINT stop mtasts, which exits 3 saying it was interrupted.
func TestImportFIFOStopsOnSignal(t *testing.T) {
	bin, err := mtastsBinary()
	if err != nil {
		t.Fatalf("building mtasts: %v", err)
	}
	for _, tc := range []struct {
		name   string
		sig    syscall.Signal
		writer bool // a writer opens the pipe, so the import waits in a read
	}{
		{"open, SIGTERM", syscall.SIGTERM, false},
		{"open, SIGINT", syscall.SIGINT, false},
		{"read, SIGTERM", syscall.SIGTERM, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fifo := filepath.Join(dir, "reports.fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(dir, "reports.db")
			cmd := exec.Command(bin, "reports", "import", "--db", "sqlite://"+db, "--dkim", "off", fifo)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() {
				if cmd.ProcessState == nil {
					_ = cmd.Process.Kill()
					<-exited
				}
			})
			if tc.writer {
				// Opening for writing waits until mtasts opened the pipe
				// for reading; then it waits in a read.
				w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
			} else {
				waitSyscall(t, cmd.Process.Pid, "the open of the pipe", "257 ") // openat
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(time.Minute):
				t.Fatalf("mtasts still runs a minute after %v\n%s%s", tc.sig, stdout.String(), stderr.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != exitCannotRun || !strings.Contains(stderr.String(), "import interrupted") {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitCannotRun, stdout.String(), stderr.String())
			}
		})
	}
}

// TestStdinStopsOnSignal runs commands that read standard input from a
// pipe that stays open without data: SIGTERM stops each.
func TestStdinStopsOnSignal(t *testing.T) {
	bin, err := mtastsBinary()
	if err != nil {
		t.Fatalf("building mtasts: %v", err)
	}
	w := fixedWorld(t)
	db := importFixtures(t)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"policy", "lint", "-"}, exitCannotRun},
		{checkArgs(w, "-f", "-"), exitCannotRun},
		{[]string{"reports", "delete", db, "1"}, exitCannotRun}, // at the prompt
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			waitSyscall(t, cmd.Process.Pid, "a read of standard input", "0 0x0 ")
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(time.Minute):
				_ = cmd.Process.Kill()
				t.Fatalf("mtasts %s still runs a minute after SIGTERM\n%s", tc.args[0], stderr.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, stderr.String())
			}
		})
	}
}
