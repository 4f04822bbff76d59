package testexim

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testpostfix"
	"github.com/mtasts/mtasts/internal/testenv/testservers"
)

// BinaryEnv names the environment variable that gives the Exim binary to
// run; scripts/test.sh sets it to the binary it unpacks.
const BinaryEnv = "MTASTS_EXIM"

// eximUser is the user Debian's Exim is built to run as.
const eximUser = "Debian-exim"

// Binary returns the Exim binary: $MTASTS_EXIM, or exim4 or exim where
// Debian installs them; "" if there is none.
func Binary() string {
	if b := os.Getenv(BinaryEnv); b != "" {
		return b
	}
	for _, name := range []string{"exim4", "exim"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		if p := filepath.Join("/usr/sbin", name); isExecutable(p) {
			return p
		}
	}
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Require skips the test unless Exim and network namespaces can be used
// here; with MTASTS_REQUIRE_SERVICES=1 it fails the test instead.
func Require(t testing.TB) {
	t.Helper()
	if why := testpostfix.Available(); why != "" {
		testservers.Unavailable(t, why)
	}
	b := Binary()
	if b == "" {
		testservers.Unavailable(t, "no Exim: set "+BinaryEnv+" to an exim4 binary (scripts/test.sh unpacks Debian's exim4-daemon-light)")
	}
	if !isExecutable(b) {
		testservers.Unavailable(t, BinaryEnv+"="+b+" is not an executable file")
	}
}

// Options configure an Instance.
type Options struct {
	// Main, Routers and Transports are the parts of the configuration
	// under test: the main section (after the instance's own settings),
	// and the bodies of "begin routers" and "begin transports".
	Main, Routers, Transports string
	// Macros are given to every Exim command with -D, overriding the
	// definitions of the configuration (a socket path, say).
	Macros map[string]string
	// CA, if set, is PEM that the namespace's Exim trusts as its system
	// trust store (see the package documentation).
	CA []byte
}

// Instance is a private Exim: its configuration, spool and log under one
// directory, its commands run inside a namespace. It runs no daemon: mail
// goes in with Send, which delivers it at once, and what is deferred
// stays in the spool.
type Instance struct {
	// Dir holds exim.conf, spool/ and log/.
	Dir string

	bin    string
	macros []string
	ns     *testpostfix.Namespace
	t      testing.TB
}

// Start writes the configuration of an instance in ns, checks it with
// "exim -bV" and returns the instance. Its directory is removed in
// t.Cleanup.
func Start(t testing.TB, ns *testpostfix.Namespace, o Options) *Instance {
	t.Helper()
	dir, err := os.MkdirTemp("", "mtasts-exim-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	x := &Instance{Dir: dir, bin: Binary(), ns: ns, t: t}
	for k, v := range o.Macros {
		x.macros = append(x.macros, "-D"+k+"="+v)
	}
	etc := filepath.Join("/etc/netns", ns.Name)
	uid, gid, err := x.addUser(etc)
	if err != nil {
		t.Fatalf("testexim: %v", err)
	}
	// Exim writes its spool and log as its own user.
	for _, d := range []string{"spool", "log"} {
		p := filepath.Join(dir, d)
		if err := os.Mkdir(p, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if o.CA != nil {
		certs := filepath.Join(etc, "ssl", "certs")
		if err := os.MkdirAll(certs, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(certs, "ca-certificates.crt"), o.CA, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := x.baseConfig() + o.Main + "\nbegin routers\n\n" + o.Routers +
		"\nbegin transports\n\n" + o.Transports + "\nbegin retry\n\n*  *  F,1h,1h\n"
	// Exim reads a configuration owned by root and writable by nobody else.
	if err := os.WriteFile(x.ConfigFile(), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := x.command(t.Context(), "-bV").CombinedOutput(); err != nil {
		t.Fatalf("testexim: exim -bV: %v\n%s\nconfiguration:\n%s", err, out, conf)
	}
	return x
}

// ConfigFile is the instance's configuration file (for exim -C).
func (x *Instance) ConfigFile() string { return filepath.Join(x.Dir, "exim.conf") }

// baseConfig is the start of the main section of every instance:
// self-contained paths, IPv4, logging of the TLS details, no local
// domain but the instance's own name.
func (x *Instance) baseConfig() string {
	return fmt.Sprintf(`# testexim base settings
exim_path = %s
spool_directory = %s
log_file_path = %s
primary_hostname = sender.test
qualify_domain = sender.test
domainlist local_domains = @
disable_ipv6 = true
keep_environment =
log_selector = +tls_certificate_verified +tls_peerdn +tls_sni +outgoing_port +deliver_time
# the configuration under test
`, x.bin, filepath.Join(x.Dir, "spool"), filepath.Join(x.Dir, "log", "%slog"))
}

// addUser gives the namespace an Exim user, Debian-exim, unless the
// system has one: copies of /etc/passwd and /etc/group with the user
// added, in etc (the namespace's /etc/netns directory). It returns the
// user's ids.
func (x *Instance) addUser(etc string) (uid, gid int, err error) {
	if u, err := user.Lookup(eximUser); err == nil {
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		return uid, gid, nil
	}
	id, err := freeID()
	if err != nil {
		return 0, 0, err
	}
	for file, line := range map[string]string{
		"passwd": fmt.Sprintf("%s:x:%d:%d:Exim:/nonexistent:/usr/sbin/nologin\n", eximUser, id, id),
		"group":  fmt.Sprintf("%s:x:%d:\n", eximUser, id),
	} {
		b, err := os.ReadFile(filepath.Join("/etc", file))
		if err != nil {
			return 0, 0, err
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			b = append(b, '\n')
		}
		if err := os.WriteFile(filepath.Join(etc, file), append(b, line...), 0o644); err != nil {
			return 0, 0, err
		}
	}
	return id, id, nil
}

// freeID returns a user and group id that neither /etc/passwd nor
// /etc/group uses.
func freeID() (int, error) {
	for id := 64000; id > 60000; id-- {
		s := strconv.Itoa(id)
		_, uerr := user.LookupId(s)
		_, gerr := user.LookupGroupId(s)
		if uerr != nil && gerr != nil {
			return id, nil
		}
	}
	return 0, fmt.Errorf("no free user id for %s", eximUser)
}

// command returns an Exim command with the instance's configuration and
// macros, run inside the namespace.
func (x *Instance) command(ctx context.Context, args ...string) *exec.Cmd {
	return x.ns.Command(ctx, x.bin, append(append([]string{"-C", x.ConfigFile()}, x.macros...), args...)...)
}

// Send submits a message to one or more recipients from the command line
// (exim -odi), which receives it and delivers it before returning: what
// can be delivered is, and what is deferred stays queued. It returns
// Exim's output.
func (x *Instance) Send(from, subject string, to ...string) string {
	x.t.Helper()
	msg := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n%s\r\n", from, strings.Join(to, ", "), subject, subject)
	ctx, cancel := context.WithTimeout(x.t.Context(), 60*time.Second)
	defer cancel()
	cmd := x.command(ctx, append([]string{"-odi", "-f", from, "--"}, to...)...)
	cmd.Stdin = strings.NewReader(msg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		x.t.Fatalf("testexim: exim -odi %s: %v: %s\nlog:\n%s", to, err, out, x.Log())
	}
	return string(out)
}

// Log returns the main log so far.
func (x *Instance) Log() string {
	b, _ := os.ReadFile(filepath.Join(x.Dir, "log", "mainlog"))
	return string(b)
}

// LogLine returns the first main log line that contains every one of
// parts, or "".
func (x *Instance) LogLine(parts ...string) string {
	for line := range strings.Lines(x.Log()) {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
			return strings.TrimSuffix(line, "\n")
		}
	}
	return ""
}

// Queue returns the output of "exim -bp": the messages in the spool and
// their undelivered recipients.
func (x *Instance) Queue() string {
	x.t.Helper()
	out, err := x.command(x.t.Context(), "-bp").CombinedOutput()
	if err != nil {
		x.t.Fatalf("testexim: exim -bp: %v: %s", err, out)
	}
	return string(out)
}
