package testservers

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Dovecot is a running Dovecot IMAP server (RFC 9051) with one user, whose
// mail is a Maildir in a temporary directory. It speaks IMAP without TLS
// on loopback and accepts LOGIN.
type Dovecot struct {
	// Addr is "127.0.0.1:port".
	Addr string
	// User and Password log in.
	User, Password string
}

// StartDovecot starts Dovecot (Debian package dovecot-imapd) on a free
// port of 127.0.0.1 with a configuration of its own in a temporary
// directory. As root, mail is stored as the user "nobody" and Dovecot's
// own processes run as the users the package creates; otherwise all runs
// as the current user. See the package documentation for what happens
// when Dovecot is not installed.
func StartDovecot(t testing.TB) *Dovecot {
	t.Helper()
	bin := lookPath("dovecot", "/usr/sbin/dovecot")
	if bin == "" {
		missing(t, "dovecot", "dovecot-imapd")
	}
	// Dovecot's processes run as other users, which must reach the
	// directory: t.TempDir's parents are private.
	dir, err := os.MkdirTemp("", "mtasts-dovecot-")
	if err != nil {
		t.Fatalf("testservers: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	internal, login, uid, gid := dovecotUsers(t)
	mail := filepath.Join(dir, "mail")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("testservers: %v", err)
	}
	if err := os.Mkdir(mail, 0o755); err != nil {
		t.Fatalf("testservers: %v", err)
	}
	if err := os.Chown(mail, uid, gid); err != nil {
		t.Fatalf("testservers: %v", err)
	}
	port := freePort(t)
	d := &Dovecot{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), User: "tlsrpt", Password: "s3cret"}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(d.User+":{PLAIN}"+d.Password+"\n"), 0o644); err != nil {
		t.Fatalf("testservers: %v", err)
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = /dev/stderr
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = %[2]s
default_internal_group = %[2]s
default_login_user = %[3]s
first_valid_uid = 1
mail_location = maildir:%[1]s/mail/%%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN %[1]s/passwd
}
userdb {
  driver = static
  args = uid=%[4]d gid=%[5]d home=%[1]s/mail/%%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[6]d
  }
  inet_listener imaps {
    port = 0
  }
}
`, dir, internal, login, uid, gid, port)
	confPath := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatalf("testservers: %v", err)
	}
	cmd := exec.Command(bin, "-F", "-c", confPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s := start(t, cmd, filepath.Join(dir, "dovecot.log"), syscall.SIGTERM)
	s.waitReady(t, "dovecot", func() error { return imapGreeting(d.Addr) })
	return d
}

// dovecotUsers returns the users Dovecot's processes run as and the uid
// and gid of the mail.
func dovecotUsers(t testing.TB) (internal, login string, uid, gid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatalf("testservers: %v", err)
		}
		return u.Username, u.Username, os.Getuid(), os.Getgid()
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("testservers: %v", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return "dovecot", "dovenull", uid, gid
}

// imapGreeting checks that an IMAP server at addr says "* OK".
func imapGreeting(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "* OK") {
		return fmt.Errorf("greeting %q", line)
	}
	return nil
}
