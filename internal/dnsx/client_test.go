package dnsx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewFromAddr(t *testing.T) {
	good := map[string]string{
		"127.0.0.1:5353":   "127.0.0.1:5353",
		"127.0.0.1":        "127.0.0.1:53",
		" 192.0.2.1 ":      "192.0.2.1:53",
		"[::1]:53":         "[::1]:53",
		"[::1]":            "[::1]:53",
		"::1":              "[::1]:53",
		"2001:db8::1":      "[2001:db8::1]:53",
		"[2001:db8::1]:54": "[2001:db8::1]:54",
		"fe80::1%eth0":     "[fe80::1%eth0]:53",
	}
	for in, want := range good {
		c, err := NewFromAddr(in)
		if err != nil {
			t.Errorf("NewFromAddr(%q): %v", in, err)
			continue
		}
		if got := c.Servers(); len(got) != 1 || got[0] != want {
			t.Errorf("NewFromAddr(%q).Servers() = %q, want %q", in, got, want)
		}
	}
	bad := []string{
		"garbage", "localhost", "localhost:53", "127.0.0.1:", "127.0.0.1:0",
		"127.0.0.1:99999", "127.0.0.1:dns", "::1:53x", "[::1", "1.2.3", "udp://127.0.0.1",
	}
	for _, in := range bad {
		c, err := NewFromAddr(in)
		if err == nil {
			t.Errorf("NewFromAddr(%q) = %q, want error", in, c.Servers())
			continue
		}
		if !strings.Contains(err.Error(), "invalid DNS server address") || !strings.Contains(err.Error(), in) {
			t.Errorf("NewFromAddr(%q): unclear error %q", in, err)
		}
	}
}

func TestResolvConf(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	path := write("resolv.conf", `# generated
search example.com
nameserver 192.0.2.53
nameserver 2001:db8::53
; a comment
nameserver fe80::1%eth0
options ndots:2 timeout:1 attempts:5 rotate
`)
	c, err := New(Config{ResolvConf: path})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"192.0.2.53:53", "[2001:db8::53]:53", "[fe80::1%eth0]:53"}
	if diff := cmp.Diff(want, c.Servers()); diff != "" {
		t.Errorf("Servers (-want +got):\n%s", diff)
	}
	// Timeout and attempts come from Config, not from resolv.conf.
	if c.timeout != DefaultTimeout || c.attempts != DefaultAttempts {
		t.Errorf("timeout, attempts = %v, %d", c.timeout, c.attempts)
	}

	// Explicit servers win over resolv.conf.
	c, err = New(Config{Servers: []string{"192.0.2.1"}, ResolvConf: path, Timeout: time.Second, Attempts: 1})
	if err != nil || !cmp.Equal(c.Servers(), []string{"192.0.2.1:53"}) || c.timeout != time.Second || c.attempts != 1 {
		t.Errorf("explicit servers: %v, %v", c, err)
	}

	errs := map[string]string{
		write("empty.conf", "search example.com\n"):        "no nameserver",
		write("bad.conf", "nameserver resolver.example\n"): "invalid DNS server address",
		filepath.Join(dir, "missing.conf"):                 "missing.conf",
	}
	for path, want := range errs {
		if _, err := New(Config{ResolvConf: path}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(%s): err = %v, want it to mention %q", filepath.Base(path), err, want)
		}
	}
}
