// Package deb tests the Debian package that build.sh makes: built twice
// to the same bytes, installed with dpkg -i on this machine, its files
// where the units expect them, its daemon started from the shipped
// configuration answering postmap -q, and removed again with dpkg --purge.
package deb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testpostfix"
	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// build runs build.sh into a new directory and returns the package's path.
func build(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("./build.sh", t.TempDir()).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("build.sh: %v\n%s", err, stderr)
	}
	return strings.TrimSpace(string(out))
}

func fileHash(t *testing.T, path string) [sha256.Size]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	b, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
	}
	return string(b)
}

func require(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testservers.Unavailable(t, "installing a package needs root")
	}
	for _, cmd := range []string{"dpkg-deb", "dpkg", "systemd-analyze", "setpriv"} {
		if _, err := exec.LookPath(cmd); err != nil {
			testservers.Unavailable(t, cmd+" is not installed")
		}
	}
	testpostfix.Require(t)
}

func TestPackage(t *testing.T) {
	require(t)
	deb := build(t)
	if again := build(t); fileHash(t, deb) != fileHash(t, again) {
		t.Errorf("two builds of one commit differ: %s and %s", deb, again)
	}
	version := strings.TrimSpace(run(t, "dpkg-deb", "--field", deb, "Version"))

	run(t, "dpkg", "-i", deb)
	t.Cleanup(func() {
		run(t, "dpkg", "--purge", "mtasts")
		for _, gone := range []string{"/usr/bin/mtasts", "/etc/mtasts/mtasts.toml", "/var/lib/mtasts-daemon", "/lib/systemd/system/mtasts-daemon.service"} {
			if _, err := os.Lstat(gone); err == nil {
				t.Errorf("%s is still there after dpkg --purge", gone)
			}
		}
	})

	// The system user, and the files where the units and the man pages
	// say they are.
	u, err := user.Lookup("mtasts")
	if err != nil {
		t.Fatalf("no system user mtasts after installation: %v", err)
	}
	for _, f := range []struct {
		path string
		mode fs.FileMode
		uid  string // "" root
	}{
		{"/usr/bin/mtasts", 0o755, ""},
		{"/etc/mtasts/mtasts.toml", 0o640, ""},
		{"/lib/systemd/system/mtasts-daemon.service", 0o644, ""},
		{"/lib/systemd/system/mtasts-serve.service", 0o644, ""},
		{"/usr/share/man/man1/mtasts.1.gz", 0o644, ""},
		{"/usr/share/man/man1/mtasts-daemon.1.gz", 0o644, ""},
		{"/usr/share/bash-completion/completions/mtasts", 0o644, ""},
		{"/usr/share/zsh/vendor-completions/_mtasts", 0o644, ""},
		{"/usr/share/fish/vendor_completions.d/mtasts.fish", 0o644, ""},
		{"/usr/share/doc/mtasts/mtasts.example.toml", 0o644, ""},
		{"/usr/share/doc/mtasts/prometheus/alerts.yml", 0o644, ""},
		{"/usr/share/doc/mtasts/grafana/mtasts-monitor.json", 0o644, ""},
		{"/var/lib/mtasts", fs.ModeDir | 0o750, u.Uid},
		{"/var/lib/mtasts-daemon", fs.ModeDir | 0o750, u.Uid},
	} {
		fi, err := os.Stat(f.path)
		if err != nil {
			t.Errorf("installed package: %v", err)
			continue
		}
		uid := fmt.Sprint(fi.Sys().(*syscall.Stat_t).Uid)
		want := f.uid
		if want == "" {
			want = "0"
		}
		if fi.Mode() != f.mode || uid != want {
			t.Errorf("%s: mode %v owner %s, want %v owner %s", f.path, fi.Mode(), uid, f.mode, want)
		}
	}

	if out := run(t, "/usr/bin/mtasts", "--version"); !strings.HasPrefix(out, "mtasts "+version+" (commit ") {
		t.Errorf("mtasts --version = %q, want the package version %s and a commit", out, version)
	}
	if out, err := exec.Command("systemd-analyze", "verify", "--man=no",
		"/lib/systemd/system/mtasts-daemon.service", "/lib/systemd/system/mtasts-serve.service").CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	// The shipped configuration passes the check the unit runs before
	// each start, as the unit's user.
	if out, err := exec.Command("setpriv", "--reuid", u.Uid, "--regid", u.Gid, "--init-groups",
		"/usr/bin/mtasts", "daemon", "--config", "/etc/mtasts/mtasts.toml", "--check").CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "configuration valid") {
		t.Errorf("mtasts daemon --check of the shipped configuration: %v\n%s", err, out)
	}

	t.Run("daemon", func(t *testing.T) { testShippedDaemon(t, u) })
}

// testShippedDaemon starts the installed daemon as the unit does (user
// mtasts, the shipped /etc/mtasts/mtasts.toml, no flags) in a network
// namespace whose internet is a test world, and asks it with postmap -q
// exactly as the shipped file's comment tells the administrator to.
func testShippedDaemon(t *testing.T, u *user.User) {
	w := testworld.New(t)
	w.DNS.Add("good.test. MX 10 mx.good.test.")
	w.PolicyDomain("good.test", "version: STSv1\nmode: enforce\nmx: mx.good.test\nmax_age: 86400\n")
	ns := testpostfix.NewNamespace(t)
	ns.ServeWorld(w, map[string][]int{"mta-sts.good.test": {443}})

	// The world's CA, where the unprivileged daemon can read it.
	caDir, err := os.MkdirTemp("", "mtasts-deb-ca")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(caDir) })
	ca := filepath.Join(caDir, "ca.pem")
	pem, err := os.ReadFile(w.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(caDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, pem, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var log bytes.Buffer
	d := ns.Command(ctx, "setpriv", "--reuid", u.Uid, "--regid", u.Gid, "--init-groups",
		"/usr/bin/mtasts", "daemon", "--config", "/etc/mtasts/mtasts.toml")
	d.Env = append(os.Environ(), "SSL_CERT_FILE="+ca)
	d.Stdout, d.Stderr = &log, &log
	d.Cancel = func() error { return d.Process.Signal(syscall.SIGTERM) }
	d.WaitDelay = 10 * time.Second
	if err := d.Start(); err != nil {
		t.Fatalf("starting the daemon: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := d.Wait(); err != nil && ctx.Err() == nil {
			t.Errorf("daemon: %v", err)
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", log.String())
		}
	})

	cf := t.TempDir()
	if err := os.WriteFile(filepath.Join(cf, "main.cf"), []byte("compatibility_level = 3.6\nmyhostname = postmap.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The daemon may still be starting: postmap retries for a while.
	var out []byte
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err = ns.Command(ctx, "postmap", "-c", cf, "-q", "good.test", "socketmap:inet:127.0.0.1:8461:postfix").CombinedOutput()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := strings.TrimSpace(string(out)); err != nil || !strings.HasPrefix(got, "secure match=mx.good.test") {
		t.Errorf("postmap -q good.test against the shipped daemon: %v, %q; want secure match=mx.good.test", err, got)
	}
	// The daemon keeps its cache where the packaged file says.
	fi, err := os.Stat("/var/lib/mtasts-daemon/cache.db")
	if err != nil {
		t.Fatalf("the shipped cache: %v", err)
	}
	if uid := fmt.Sprint(fi.Sys().(*syscall.Stat_t).Uid); uid != u.Uid {
		t.Errorf("cache.db owned by uid %s, want mtasts (%s)", uid, u.Uid)
	}
}
