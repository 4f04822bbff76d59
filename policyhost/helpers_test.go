package policyhost

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/sts"
)

// syncBuffer is a bytes.Buffer safe for concurrent use, for logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// writeCert writes c as PEM certificate chain and key files into dir and
// returns their paths.
func writeCert(t testing.TB, dir, name string, c *tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	return testworld.WriteCertFiles(t, dir, name, c)
}

// replaceCert writes c over certFile and keyFile in place, as a renewal
// does: key first, then certificate.
func replaceCert(t testing.TB, certFile, keyFile string, c *tls.Certificate) {
	t.Helper()
	c2, k2 := writeCert(t, t.TempDir(), "renewed", c)
	for _, mv := range [][2]string{{k2, keyFile}, {c2, certFile}} {
		data, err := os.ReadFile(mv[0])
		if err == nil {
			err = os.WriteFile(mv[1], data, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// testConfig returns a Config serving domains in enforce mode with
// certificates of w's CA, listening on loopback ports chosen by the
// system.
func testConfig(t testing.TB, w *testworld.World, domains ...string) Config {
	t.Helper()
	cfg := DefaultConfig()
	dir := t.TempDir()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.ListenHTTPS, cfg.ListenHTTP, cfg.ListenMetrics = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	for _, d := range domains {
		certFile, keyFile := writeCert(t, dir, d, w.CA.Valid(t, "mta-sts."+d))
		cfg.Domains = append(cfg.Domains, DomainConfig{
			Domain: d, Mode: sts.ModeEnforce, MaxAge: 604800, MX: []string{"mx1." + d, "*.mx." + d},
			CertFile: certFile, KeyFile: keyFile,
		})
	}
	return cfg
}

// testSite is a running Server.
type testSite struct {
	srv  *Server
	ls   Listeners
	logs *syncBuffer
	stop func() error
}

// startSite starts a Server for cfg and stops it at the end of the test.
func startSite(t testing.TB, cfg Config, opts Options) *testSite {
	t.Helper()
	return startSiteOn(t, cfg, opts, nil)
}

// startSiteOn is startSite on the listeners ls, or on those of cfg if ls
// is nil.
func startSiteOn(t testing.TB, cfg Config, opts Options, ls *Listeners) *testSite {
	t.Helper()
	logs := &syncBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if ls == nil {
		l, err := srv.Listen()
		if err != nil {
			t.Fatalf("Listen: %v", err)
		}
		ls = &l
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, *ls) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(20 * time.Second):
				runErr = errors.New("Run did not return")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &testSite{srv: srv, ls: *ls, logs: logs, stop: stop}
}

// addr returns the HTTPS listener's address.
func (ts *testSite) addr() string { return ts.ls.HTTPS.Addr().String() }

// dialer connects every address to the HTTPS listener, as curl --resolve.
func (ts *testSite) dialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, ts.addr())
	}
}

// fetch fetches domain's policy from the site with sts.FetchPolicy.
func (ts *testSite) fetch(t testing.TB, w *testworld.World, domain string) (*sts.Fetched, error) {
	t.Helper()
	return sts.FetchPolicy(context.Background(), domain, sts.FetchOptions{RootCAs: w.RootCAs(), DialContext: ts.dialer(), Timeout: 10 * time.Second})
}

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitForWithin(t, 10*time.Second, what, cond)
}

// waitForWithin is waitFor with a deadline of d.
func waitForWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logged reports whether the site logged a record containing all parts.
func (ts *testSite) logged(parts ...string) bool {
	for _, line := range strings.Split(ts.logs.String(), "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok && line != "" {
			return true
		}
	}
	return false
}

// startProgram starts cmd, collecting its output, and kills it at the end
// of the test; the output is logged if the test failed.
func startProgram(t testing.TB, name string, cmd *exec.Cmd) *syncBuffer {
	t.Helper()
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s:\n%s", name, logs)
		}
	})
	return logs
}
