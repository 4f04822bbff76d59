package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/statedir"
	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// asUser runs the mtasts binary as the user nobody, with home as its
// home directory, the way a user without rights on statedir.System
// starts it.
type asUser struct {
	t    *testing.T
	bin  string
	cred *syscall.Credential
	home string
}

// newAsUser prepares a home directory for nobody and the binary for it to
// run. It cannot run unless as root (to change user), nor if nobody could
// write in statedir.System: then it is skipped, or fails in CI
// (testservers.Unavailable).
func newAsUser(t *testing.T) *asUser {
	t.Helper()
	if os.Geteuid() != 0 {
		testservers.Unavailable(t, "changing user needs root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		testservers.Unavailable(t, "no user nobody: "+err.Error())
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	bin, err := mtastsBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	// t.TempDir's parents are private to root.
	home, err := os.MkdirTemp("", "mtasts-home")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(statedir.System); err == nil && fi.Mode().Perm()&0o002 != 0 {
		testservers.Unavailable(t, statedir.System+" is writable by anyone")
	}
	return &asUser{t: t, bin: bin, cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, home: home}
}

// command returns the command running mtasts with args as nobody.
func (a *asUser) command(args ...string) *exec.Cmd {
	cmd := exec.Command(a.bin, args...)
	cmd.Env = []string{"HOME=" + a.home, "PATH=/usr/bin:/bin"}
	cmd.Dir = a.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: a.cred}
	return cmd
}

// run runs mtasts with args as nobody and returns its exit code and
// standard error.
func (a *asUser) run(args ...string) (int, string) {
	a.t.Helper()
	cmd := a.command(args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		a.t.Fatalf("mtasts %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// start starts a service as nobody, waits until its standard error has
// said want and then that it listens, stops it with SIGTERM and returns
// its exit code.
func (a *asUser) start(want string, args ...string) int {
	a.t.Helper()
	cmd := a.command(args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		a.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	ready, done := make(chan bool, 1), make(chan struct{})
	var log strings.Builder
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		said, sent := false, false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			said = said || strings.Contains(sc.Text(), want)
			if said && !sent && strings.Contains(sc.Text(), "listening") {
				sent = true
				ready <- true
			}
		}
		if !sent {
			ready <- false
		}
	}()
	ok := false
	select {
	case ok = <-ready:
	case <-time.After(time.Minute): // a hang, not a slow machine
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	<-done // standard error is closed
	err = cmd.Wait()
	if !ok {
		a.t.Errorf("mtasts %s: no %q then \"listening\" on standard error (%v):\n%s", strings.Join(args, " "), want, err, log.String())
	}
	return cmd.ProcessState.ExitCode()
}

// state is the user's state directory of mtasts.
func (a *asUser) state(name string) string {
	return filepath.Join(a.home, ".local", "state", "mtasts", name)
}

// A user who may not write in /var/lib/mtasts runs every command that
// keeps state without configuring where: each keeps it in
// ~/.local/state/mtasts and says so. A place named by the configuration
// or a flag is never replaced.
func TestStateDirAsUser(t *testing.T) {
	a := newAsUser(t)
	const note = "keeping state in"

	// An operator's command before the daemon ever ran: the daemon's
	// default cache is where the daemon will look for it.
	t.Run("override", func(t *testing.T) {
		a.t = t
		code, stderr := a.run("override", "list")
		if code != 0 || strings.Count(stderr, note) != 1 {
			t.Errorf("override list: exit %d, want 0 and one note\n%s", code, stderr)
		}
		if _, err := os.Stat(a.state("cache.db")); err != nil {
			t.Errorf("cache: %v", err)
		}
	})

	t.Run("daemon", func(t *testing.T) {
		a.t = t
		if code, stderr := a.run("daemon", "--check"); code != 0 {
			t.Fatalf("daemon --check: exit %d\n%s", code, stderr)
		}
		if code := a.start(note, "daemon", "--listen", "127.0.0.1:0"); code != 0 {
			t.Errorf("daemon: exit %d", code)
		}
		if _, err := os.Stat(a.state("cache.db")); err != nil {
			t.Errorf("cache: %v", err)
		}
	})

	t.Run("reports", func(t *testing.T) {
		a.t = t
		code, stderr := a.run("reports", "list")
		if code != 0 || strings.Count(stderr, note) != 1 {
			t.Errorf("reports list: exit %d, want 0 and one note\n%s", code, stderr)
		}
		if _, err := os.Stat(a.state("reports.db")); err != nil {
			t.Errorf("store: %v", err)
		}
	})

	t.Run("serve", func(t *testing.T) {
		a.t = t
		conf := filepath.Join(a.home, "conf")
		if err := os.Mkdir(conf, 0o755); err != nil {
			t.Fatal(err)
		}
		ca := testworld.NewCA(t, "state test CA")
		testworld.WriteCertFiles(t, conf, "example.net", ca.Valid(t, "mta-sts.example.net"))
		for _, f := range []string{"example.net.crt", "example.net.key"} {
			if err := os.Chmod(filepath.Join(conf, f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		text := `[serve]
listen_https = "127.0.0.1:0"
listen_http = ""
listen_metrics = ""

[serve.reports]
enabled = true
dkim = "off"

[[domain]]
name = "example.net"
mode = "testing"
mx = ["mx1.example.net"]
cert_file = "example.net.crt"
key_file = "example.net.key"
`
		if err := os.WriteFile(filepath.Join(conf, "mtasts.toml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, stderr := a.run("serve", "--config", "conf/mtasts.toml", "--check"); code != 0 {
			t.Fatalf("serve --check: exit %d\n%s", code, stderr)
		}
		if code := a.start(note, "serve", "--config", "conf/mtasts.toml"); code != 0 {
			t.Errorf("serve: exit %d", code)
		}
		for _, f := range []string{"policies.json", "reports.db"} {
			if _, err := os.Stat(a.state(f)); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	})

	t.Run("configured paths never fall back", func(t *testing.T) {
		a.t = t
		for _, args := range [][]string{
			{"daemon", "--check", "--cache", "sqlite://" + filepath.Join(statedir.System, "cache.db")},
			{"reports", "list", "--data-dir", statedir.System},
			{"reports", "list", "--db", "sqlite://" + filepath.Join(statedir.System, "reports.db")},
		} {
			code, stderr := a.run(args...)
			if code == 0 || strings.Contains(stderr, note) {
				t.Errorf("mtasts %s: exit %d, want a failure without falling back\n%s", strings.Join(args, " "), code, stderr)
			}
		}
	})
}
