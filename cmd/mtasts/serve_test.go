package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/sts"
)

// serveConfig writes a configuration serving domains with certificates
// from w's CA into a temporary directory and returns its path. extra is
// added to the [serve] section.
func serveConfig(t *testing.T, w *testworld.World, extra string, domains ...string) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, "[serve]\nlisten_https = \"127.0.0.1:0\"\nlisten_http = \"\"\nlisten_metrics = \"\"\ndata_dir = \"data\"\n%s\n", extra)
	for _, d := range domains {
		testworld.WriteCertFiles(t, dir, d, w.CA.Valid(t, "mta-sts."+d))
		fmt.Fprintf(&b, "\n[[domain]]\nname = %q\nmode = \"enforce\"\nmx = [\"mx1.%s\"]\ncert_file = \"%s.crt\"\nkey_file = \"%s.key\"\n", d, d, d, d)
	}
	path := filepath.Join(dir, "mtasts.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// serveRun is an "mtasts serve" running in-process.
type serveRun struct {
	stderr *testenv.Buffer
	cancel context.CancelFunc
	done   chan int
	addr   string
}

var listeningHTTPS = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)","proto":"https"`)

// startServe runs mtasts serve with args and waits until it listens.
func startServe(t *testing.T, args ...string) *serveRun {
	t.Helper()
	r := &serveRun{stderr: &testenv.Buffer{}, done: make(chan int, 1)}
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: r.stderr, now: time.Now, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- run(ctx, append([]string{"serve"}, args...), e) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := listeningHTTPS.FindStringSubmatch(r.stderr.String()); m != nil {
			r.addr = m[1]
			break
		}
		select {
		case code := <-r.done:
			t.Fatalf("serve exited with %d:\n%s", code, r.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", r.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		if code := r.stop(); code != 0 {
			t.Errorf("serve exited with %d:\n%s", code, r.stderr)
		}
	})
	return r
}

func (r *serveRun) stop() int {
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(20 * time.Second):
		return -1
	}
}

// fetch fetches domain's policy from the server with our sender client.
func (r *serveRun) fetch(w *testworld.World, domain string) (*sts.Fetched, error) {
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, r.addr)
	}
	return sts.FetchPolicy(context.Background(), domain, sts.FetchOptions{RootCAs: w.RootCAs(), DialContext: dial, Timeout: 5 * time.Second})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func servedMode(r *serveRun, w *testworld.World, domain string) sts.Mode {
	f, err := r.fetch(w, domain)
	if err != nil {
		return ""
	}
	return f.Policy.Mode
}

func TestServeCheck(t *testing.T) {
	w := testworld.New(t)
	r := runCmd(t, nil, "", "serve", "--check", "--config", serveConfig(t, w, "", "a.test", "b.test"))
	if r.code != exitOK || !strings.Contains(r.stdout, "configuration valid, 2 domains") || !strings.Contains(r.stdout, "b.test: mode enforce") {
		t.Errorf("code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// --check finds what a start would: the example file names
	// certificate files that exist only on a real host (issue 15).
	r = runCmd(t, nil, "", "serve", "--check", "--config", filepath.Join("..", "..", "docs", "mtasts.example.toml"))
	if r.code != exitErrors || !strings.Contains(r.stderr, "domain example.com: certificate: stat /etc/mtasts/certs/mta-sts.example.com.crt") {
		t.Errorf("example file: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A certificate for another name, and a key of another certificate.
	cfg := serveConfig(t, w, "", "c.test")
	dir := filepath.Dir(cfg)
	testworld.WriteCertFiles(t, dir, "c.test", w.CA.Valid(t, "mta-sts.other.test"))
	r = runCmd(t, nil, "", "serve", "--check", "--config", cfg)
	if r.code != exitErrors || !strings.Contains(r.stderr, "is not valid for mta-sts.c.test") {
		t.Errorf("certificate for another name: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	testworld.WriteCertFiles(t, dir, "c.test", w.CA.Valid(t, "mta-sts.c.test"))
	testworld.WriteCertFiles(t, dir, "other", w.CA.Valid(t, "mta-sts.c.test"))
	if err := os.Rename(filepath.Join(dir, "other.key"), filepath.Join(dir, "c.test.key")); err != nil {
		t.Fatal(err)
	}
	r = runCmd(t, nil, "", "serve", "--check", "--config", cfg)
	if r.code != exitErrors || !strings.Contains(r.stderr, "private key does not match public key") {
		t.Errorf("key of another certificate: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[[domain]]\nname = \"a.example\"\nmode = \"enforce\"\nmx = [\"*.*.a.example\"]\ncert_file = \"x\"\nkey_file = \"y\"\n"), 0o644)
	r = runCmd(t, nil, "", "serve", "--check", "--config", bad)
	if r.code != exitErrors || !strings.Contains(r.stderr, "bad.toml:4: domain \"a.example\": mx:") {
		t.Errorf("invalid file: code %d\n%s", r.code, r.stderr)
	}
}

// The configuration file is reloaded when it changes; an invalid version
// is refused and the running policy stays.
func TestServeReloadOnFileChange(t *testing.T) {
	w := testworld.New(t)
	path := serveConfig(t, w, `config_check = "50ms"`, "a.test", "b.test")
	r := startServe(t, "--config", path)
	if m := servedMode(r, w, "a.test"); m != sts.ModeEnforce {
		t.Fatalf("mode %q\n%s", m, r.stderr)
	}
	data, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(data, []byte(`mode = "enforce"`), []byte(`mode = "testing"`), 1), 0o644)
	waitUntil(t, "the new mode", func() bool { return servedMode(r, w, "a.test") == sts.ModeTesting })

	os.WriteFile(path, bytes.Replace(data, []byte(`mode = "enforce"`), []byte(`mode = "sometimes"`), 1), 0o644)
	waitUntil(t, "the refusal", func() bool { return strings.Contains(r.stderr.String(), "configuration refused") })
	if !strings.Contains(r.stderr.String(), `mtasts.toml:10: domain \"a.test\": mode`) {
		t.Errorf("refusal without line and domain:\n%s", r.stderr)
	}
	if m := servedMode(r, w, "a.test"); m != sts.ModeTesting {
		t.Errorf("after the refused file: mode %q", m)
	}
}

// A second server on the same data directory refuses to start, naming the
// directory and the process that holds it; the first keeps serving.
func TestServeDataDirLocked(t *testing.T) {
	w := testworld.New(t)
	path := serveConfig(t, w, `config_check = "0s"`, "a.test")
	first := startServe(t, "--config", path)
	r := runCmd(t, w, "", "serve", "--config", path)
	dataDir := filepath.Join(filepath.Dir(path), "data")
	if r.code != exitCannotRun || !strings.Contains(r.stderr, "data directory in use: "+dataDir) ||
		!strings.Contains(r.stderr, fmt.Sprintf("locked by process %d", os.Getpid())) {
		t.Errorf("second serve: code %d, want %d naming %s and pid %d:\n%s", r.code, exitCannotRun, dataDir, os.Getpid(), r.stderr)
	}
	if m := servedMode(first, w, "a.test"); m != sts.ModeEnforce {
		t.Errorf("first server after the refusal: mode %q", m)
	}
	if code := first.stop(); code != 0 {
		t.Fatalf("first serve exited with %d", code)
	}
	second := startServe(t, "--config", path)
	if m := servedMode(second, w, "a.test"); m != sts.ModeEnforce {
		t.Errorf("a server started after the first stopped: mode %q", m)
	}
}

// SIGHUP reloads the configuration.
func TestServeReloadOnSIGHUP(t *testing.T) {
	w := testworld.New(t)
	path := serveConfig(t, w, `config_check = "0s"`, "a.test")
	r := startServe(t, "--config", path)
	data, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(data, []byte(`mode = "enforce"`), []byte(`mode = "none"`), 1), 0o644)
	time.Sleep(100 * time.Millisecond)
	if m := servedMode(r, w, "a.test"); m != sts.ModeEnforce {
		t.Fatalf("reloaded without a signal: %q", m)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the reload", func() bool { return servedMode(r, w, "a.test") == sts.ModeNone })
	if !strings.Contains(r.stderr.String(), `"reason":"SIGHUP"`) {
		t.Errorf("reload not logged:\n%s", r.stderr)
	}
}

// Unknown SNI fails the handshake on the real command too.
func TestServeUnknownHost(t *testing.T) {
	w := testworld.New(t)
	r := startServe(t, "--config", serveConfig(t, w, "", "a.test"))
	if c, err := tls.Dial("tcp", r.addr, &tls.Config{ServerName: "mta-sts.b.test", RootCAs: w.RootCAs()}); err == nil {
		c.Close()
		t.Errorf("handshake for an unserved host succeeded")
	}
}
