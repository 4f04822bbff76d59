package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/socketmap"
)

// worldEnv is the environment of a command talking to w, on the real
// clock: the world's certificates are valid from an hour before now.
func worldEnv(w *testworld.World, stdout, stderr io.Writer) *env {
	return &env{
		stdin:  strings.NewReader(""),
		stdout: stdout,
		stderr: stderr,
		now:    time.Now,
		getenv: func(string) string { return "" },
		dial:   w.DialContext,
	}
}

// The command wires its file and flags to the enforce service: it serves
// what they say until stopped, then exits 0. Package enforce tests the
// service itself.
func TestDaemon(t *testing.T) {
	w := testworld.New(t)
	w.DNS.Add("enforce.test. MX 10 mx.enforce.test.")
	w.PolicyDomain("enforce.test", "version: STSv1\nmode: enforce\nmx: mx.enforce.test\nmax_age: 86400\n")
	conf := testenv.WriteConfig(t, "[daemon]\ncache = \"memory:\"\nservername = false\n")
	stderr := &testenv.Buffer{}
	addr := startDaemon(t, worldEnv(w, io.Discard, stderr), stderr, "--config", conf, "--listen", "127.0.0.1:0", "--map", "tls",
		"--tlsrpt", "--resolver", w.Resolver(), "--ca-file", w.CAFile())
	c, err := socketmap.Dial(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Lookup(t.Context(), "tls", "enforce.test")
	if want := "OK secure match=mx.enforce.test policy_type=sts policy_domain=enforce.test"; err != nil || !strings.HasPrefix(r.String(), want) {
		t.Errorf("lookup: %q, %v; want %q…", r, err, want)
	}
}

// An unknown or invalid [daemon] key is refused with the file, the line
// and the key.
func TestDaemonBadConfig(t *testing.T) {
	for _, tc := range []struct{ name, conf, want string }{
		{"unknown key", "[daemon]\nlisen = [\"127.0.0.1:1\"]\n", `mtasts.toml:2: unknown setting "daemon.lisen"`},
		{"bad zone", "[daemon]\n\n[daemon.zones.\"exa mple\"]\nstrict_testing = true\n", `mtasts.toml:3: daemon.zones."exa mple": invalid domain name`},
		{"bad dns failure", "[daemon.default_zone]\non_dns_failure = \"ignore\"\n", `mtasts.toml:2: daemon.default_zone.on_dns_failure: "ignore": want "tempfail" or "no-policy"`},
		{"bad listen", "[daemon]\ncache = \"memory:\"\nlisten = [\"localhost\"]\n", `mtasts.toml:3: daemon.listen: listen address "localhost"`},
		{"wrong type", "[daemon]\nmaps = \"postfix\"\n", `mtasts.toml:2: daemon.maps: want an array, not a string`},
		{"bad duration", "[daemon]\nquery_timeout = \"soon\"\n", `mtasts.toml:2: daemon.query_timeout: invalid duration: "soon"`},
		{"not toml", "[daemon\n", "mtasts.toml:2: expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := testenv.WriteConfig(t, tc.conf)
			r := runCmd(t, nil, "", "daemon", "--config", conf)
			if r.code != exitCannotRun || !strings.HasPrefix(r.stderr, "mtasts: "+filepath.Dir(conf)+"/") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("code %d, stderr %q; want 3 and %q", r.code, r.stderr, tc.want)
			}
			// --check finds it too, as an invalid configuration.
			r = runCmd(t, nil, "", "daemon", "--config", conf, "--check")
			if r.code != exitErrors || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("--check: code %d, stderr %q; want 2 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

// daemon --check finds what a start would find: the settings, the CA
// file, the cache, and the key files and report store of the TLS reports.
func TestDaemonCheck(t *testing.T) {
	dir := t.TempDir()
	tlsrptSend := "[daemon.tlsrpt_send]\nenabled = true\norganization_name = \"O\"\ncontact_info = \"c@sender.test\"\nsubmitter = \"sender.test\"\n"
	for _, tc := range []struct {
		name, conf string
		code       int
		want       string
	}{
		{"valid", "[daemon]\ncache = \"sqlite://" + dir + "/cache.db\"\nlisten = [\"127.0.0.1:0\"]\n", exitOK, "configuration valid: listen 127.0.0.1:0, cache sqlite://" + dir + "/cache.db"},
		{"cache directory missing", "[daemon]\ncache = \"sqlite://" + dir + "/no/such/cache.db\"\n", exitErrors, "directory " + dir + "/no/such does not exist"},
		{"CA file missing", "[daemon]\ncache = \"memory:\"\nca_file = \"" + dir + "/no-ca.pem\"\n", exitErrors, "no-ca.pem"},
		{"resolver not an address", "[daemon]\ncache = \"memory:\"\nresolver = \"not an address\"\n", exitErrors, "DNS resolver"},
		{"TLS reports", "[daemon]\ncache = \"memory:\"\nlisten = [\"127.0.0.1:0\"]\n" + tlsrptSend + "store = \"sqlite://" + dir + "/reports.db\"\n", exitOK, "TLS reports in sqlite://" + dir + "/reports.db"},
		{"TLS report store directory missing", "[daemon]\ncache = \"memory:\"\n" + tlsrptSend + "store = \"sqlite://" + dir + "/no/reports.db\"\n", exitErrors, "TLS report store"},
		{"DKIM key missing", "[daemon]\ncache = \"memory:\"\n" + tlsrptSend + "dkim_key = \"" + dir + "/no.pem\"\ndkim_selector = \"s\"\n", exitErrors, ":8: daemon.tlsrpt_send.dkim_key: open "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, nil, "", "daemon", "--config", testenv.WriteConfig(t, tc.conf), "--check")
			if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Errorf("code %d (want %d), output %q; want %q", r.code, tc.code, r.stdout+r.stderr, tc.want)
			}
		})
	}
	// The stores it checked are still to be created by a start.
	for _, f := range []string{"cache.db", "reports.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("--check created %s: %v", f, err)
		}
	}
}
