package testpostfix

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
)

// Postfix commands, where Debian installs them.
var (
	postfixCommand  = lookPath("postfix")
	postmapCommand  = lookPath("postmap")
	sendmailCommand = lookPath("sendmail")
	postqueueCmd    = lookPath("postqueue")
)

// Require skips the test unless Postfix and network namespaces can be
// used here (root, iproute2, Debian's postfix package); with
// MTASTS_REQUIRE_SERVICES=1 it fails the test instead.
func Require(t testing.TB) {
	t.Helper()
	if why := Available(); why != "" {
		testservers.Unavailable(t, why)
	}
	RequirePostmap(t)
	for _, c := range []string{postfixCommand, sendmailCommand, postqueueCmd} {
		if !strings.HasPrefix(c, "/") {
			testservers.Unavailable(t, c+" is not installed (Debian package postfix)")
		}
	}
	if _, err := user.Lookup("postfix"); err != nil {
		testservers.Unavailable(t, "no postfix user: "+err.Error())
	}
}

// RequirePostmap skips the test unless postmap(1) is installed; with
// MTASTS_REQUIRE_SERVICES=1 it fails the test instead.
func RequirePostmap(t testing.TB) {
	t.Helper()
	if !strings.HasPrefix(postmapCommand, "/") {
		testservers.Unavailable(t, "postmap is not installed (Debian package postfix)")
	}
}

// Postmap runs "postmap -q key table" and returns what it printed and its
// exit status: 0 found, 1 not found or a lookup error (which postmap
// reports on its output). It reads a main.cf of its own, since Debian's
// postfix package configured with "No configuration" installs none.
func Postmap(t testing.TB, key, table string) (out string, status int, err error) {
	t.Helper()
	dir := t.TempDir()
	if err := writeConfigFile(filepath.Join(dir, "main.cf"), "compatibility_level = 3.6\nmyhostname = postmap.test\n"); err != nil {
		return "", 0, err
	}
	cmd := exec.CommandContext(t.Context(), postmapCommand, "-c", dir, "-q", key, table)
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(b), ee.ExitCode(), nil
	}
	return string(b), 0, err
}

// Instance is a private Postfix instance: its own configuration, queue and
// data directories under one directory, its own log file, its master
// process running inside a Namespace. It has no SMTP listener; mail goes
// in with Send (sendmail(1)) and out through smtp(8) to the world the
// namespace shows. Local delivery is disabled, so every domain is remote.
type Instance struct {
	// Dir holds etc/ (config_directory), spool/ (queue_directory), data/
	// and the log file maillog.
	Dir string

	ns *Namespace
	t  testing.TB
}

// Options configure an Instance.
type Options struct {
	// Main holds main.cf settings added to, and overriding, the base
	// configuration.
	Main map[string]string
	// CA, if set, is PEM written into the instance directory (readable by
	// user postfix) and named by smtp_tls_CAfile.
	CA []byte
}

// Start creates and starts an instance in ns, and stops it in t.Cleanup.
func Start(t testing.TB, ns *Namespace, o Options) *Instance {
	t.Helper()
	dir, err := os.MkdirTemp("", "mtasts-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &Instance{Dir: dir, ns: ns, t: t}
	for _, d := range []string{"", "etc", "spool", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pf, err := user.Lookup("postfix")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(pf.Uid)
	if err := os.Chown(filepath.Join(dir, "data"), uid, -1); err != nil {
		t.Fatal(err)
	}
	conf := baseConfig(dir)
	if o.CA != nil {
		conf["smtp_tls_CAfile"] = p.writeFile("etc/ca.pem", string(o.CA))
	}
	maps.Copy(conf, o.Main)
	p.writeFile("etc/main.cf", mainCF(conf))
	p.writeFile("etc/master.cf", masterCF)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := ns.Command(ctx, postfixCommand, "-c", p.ConfigDir(), "start").CombinedOutput(); err != nil {
		t.Fatalf("testpostfix: postfix start: %v: %s\n%s", err, out, p.Log())
	}
	t.Cleanup(p.stop)
	p.WaitLog(10*time.Second, "daemon started")
	return p
}

// ConfigDir is the instance's config_directory (for postfix -c).
func (p *Instance) ConfigDir() string { return filepath.Join(p.Dir, "etc") }

func (p *Instance) writeFile(name, data string) string {
	p.t.Helper()
	path := filepath.Join(p.Dir, name)
	if err := writeConfigFile(path, data); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// writeConfigFile writes a file for Postfix to read, dated a minute ago:
// Postfix waits (up to seconds) before reading a table or main.cf
// modified within the last second, in case it is still being written.
func writeConfigFile(path, data string) error {
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		return err
	}
	past := time.Now().Add(-time.Minute)
	return os.Chtimes(path, past, past)
}

// baseConfig is the main.cf of every instance: self-contained paths,
// IPv4, no local delivery, logging to a file, TLS logging on, no retries
// during a test.
func baseConfig(dir string) map[string]string {
	return map[string]string{
		"compatibility_level":             "3.6",
		"queue_directory":                 filepath.Join(dir, "spool"),
		"data_directory":                  filepath.Join(dir, "data"),
		"meta_directory":                  "/etc/postfix",
		"maillog_file":                    filepath.Join(dir, "maillog"),
		"maillog_file_prefixes":           dir,
		"myhostname":                      "sender.test",
		"mydomain":                        "sender.test",
		"myorigin":                        "sender.test",
		"mydestination":                   "",
		"local_transport":                 "error:local delivery is disabled",
		"alias_maps":                      "",
		"alias_database":                  "",
		"inet_interfaces":                 "loopback-only",
		"inet_protocols":                  "ipv4",
		"smtp_tls_security_level":         "may",
		"smtp_tls_loglevel":               "1",
		"smtp_connect_timeout":            "5s",
		"queue_run_delay":                 "1h",
		"minimal_backoff_time":            "1h",
		"maximal_backoff_time":            "2h",
		"notify_classes":                  "",
		"bounce_notice_recipient":         "postmaster",
		"smtp_tls_session_cache_database": "",
	}
}

// mainCF renders settings sorted by name.
func mainCF(conf map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(conf)) {
		fmt.Fprintf(&b, "%s = %s\n", k, conf[k])
	}
	return b.String()
}

// masterCF runs every service unchrooted (the instance's paths are
// outside /var/spool/postfix) and without an SMTP listener; postlogd
// writes maillog_file.
const masterCF = `pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`

// Send submits a message with sendmail(1) and returns its Message-ID.
func (p *Instance) Send(from, to, subject string) string {
	p.t.Helper()
	id := fmt.Sprintf("<%d.%s@sender.test>", time.Now().UnixNano(), strings.ReplaceAll(to, "@", "."))
	msg := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n\r\n%s\r\n", from, to, subject, id, subject)
	cmd := exec.Command(sendmailCommand, "-C", p.ConfigDir(), "-f", from, "-i", "--", to)
	cmd.Stdin = strings.NewReader(msg)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("testpostfix: sendmail: %v: %s", err, out)
	}
	return id
}

// Log returns the instance's log so far.
func (p *Instance) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "maillog"))
	return string(b)
}

// WaitLog waits until a log line contains every one of parts and returns
// that line; it fails the test after timeout.
func (p *Instance) WaitLog(timeout time.Duration, parts ...string) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, line := range strings.Split(p.Log(), "\n") {
			if containsAll(line, parts) {
				return line
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("testpostfix: no log line with %q within %v; log:\n%s", parts, timeout, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// Queue returns the output of "postqueue -p" (mailq): the queued messages
// with the reason each was deferred.
func (p *Instance) Queue() string {
	p.t.Helper()
	out, err := exec.Command(postqueueCmd, "-c", p.ConfigDir(), "-p").CombinedOutput()
	if err != nil {
		p.t.Fatalf("testpostfix: postqueue -p: %v: %s", err, out)
	}
	return string(out)
}

// stop stops the instance and waits for its master process to exit.
func (p *Instance) stop() {
	pid := p.masterPID()
	if out, err := exec.Command(postfixCommand, "-c", p.ConfigDir(), "stop").CombinedOutput(); err != nil {
		p.t.Errorf("testpostfix: postfix stop: %v: %s", err, out)
	}
	if pid <= 0 {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			p.t.Errorf("testpostfix: Postfix master %d still running 10 s after stop; killing it", pid)
			syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// masterPID reads the master's pid file, or returns 0.
func (p *Instance) masterPID() int {
	b, err := os.ReadFile(filepath.Join(p.Dir, "spool", "pid", "master.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}
