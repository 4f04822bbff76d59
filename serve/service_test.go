package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/sts"
)

// serviceFile writes a configuration serving example.net in mode with a
// certificate of ca, the report endpoint and metrics on, into dir.
func serviceFile(t *testing.T, dir string, ca *testworld.CA, mode sts.Mode) *Config {
	t.Helper()
	cfg, err := Load(writeServiceFile(t, dir, ca, mode, ""))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// writeServiceFile writes the configuration of serviceFile into dir, with
// the lines reports added to its [serve.reports] section, and returns its
// path.
func writeServiceFile(t *testing.T, dir string, ca *testworld.CA, mode sts.Mode, reports string) string {
	t.Helper()
	testworld.WriteCertFiles(t, dir, "example.net", ca.Valid(t, "mta-sts.example.net"))
	text := fmt.Sprintf(`[serve]
listen_https = "127.0.0.1:0"
listen_http = ""
listen_metrics = "127.0.0.1:0"
data_dir = "data"
config_check = "0s"

[serve.reports]
enabled = true
dkim = "off"
smtp_listen = "127.0.0.1:0"
smtp_domain = "mta-sts.example.net"
%s
[[domain]]
name = "example.net"
mode = %q
mx = ["mx1.example.net"]
cert_file = "example.net.crt"
key_file = "example.net.key"
`, reports, mode)
	path := filepath.Join(dir, "mtasts.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A Service serves its policies and report mail on the addresses it
// bound, with the certificate of the policy host, applies a
// Reload, keeps its data directory from a second one, and stops cleanly
// when its context ends.
func TestService(t *testing.T) {
	ca := testworld.NewCA(t, "serve test CA")
	dir := t.TempDir()
	log := &testenv.Buffer{}
	s, err := New(context.Background(), serviceFile(t, dir, ca, sts.ModeEnforce), Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	if s.MetricsAddr() == nil || s.ReportMailAddr() == nil {
		t.Fatalf("metrics listener %v, report mail listener %v", s.MetricsAddr(), s.ReportMailAddr())
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()

	mode := func() sts.Mode {
		dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, s.HTTPSAddr().String())
		}
		f, err := sts.FetchPolicy(context.Background(), "example.net", sts.FetchOptions{RootCAs: ca.Pool(), DialContext: dial, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("fetch: %v\n%s", err, log)
		}
		return f.Policy.Mode
	}
	if got := mode(); got != sts.ModeEnforce {
		t.Errorf("mode %s, want enforce", got)
	}
	testenv.CheckMetrics(t, "http://"+s.MetricsAddr().String()+"/metrics", "serve")
	c, err := smtp.Dial(s.ReportMailAddr().String())
	if err != nil {
		t.Fatalf("report mail listener: %v", err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Error("the report mail listener of a policy host offers no STARTTLS")
	}
	c.Close()

	if err := s.Reload(ctx, serviceFile(t, dir, ca, sts.ModeTesting)); err != nil {
		t.Fatal(err)
	}
	if got := mode(); got != sts.ModeTesting {
		t.Errorf("mode %s after Reload, want testing", got)
	}

	second := serviceFile(t, dir, ca, sts.ModeEnforce)
	var ce *ConfigError
	if _, err := New(context.Background(), second, Options{Log: log}); err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), "data directory in use") {
		t.Errorf("a second service on the data directory: %v", err)
	}

	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v\n%s", err, log)
	}
}

// A configuration that loads but cannot be served is a *ConfigError
// naming the file.
func TestServiceConfigError(t *testing.T) {
	ca := testworld.NewCA(t, "serve test CA")
	dir := t.TempDir()
	cfg := serviceFile(t, dir, ca, sts.ModeEnforce)
	if err := os.Remove(filepath.Join(dir, "example.net.key")); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), cfg, Options{Log: &testenv.Buffer{}})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), cfg.Path+": ") {
		t.Fatalf("New = %v, want a *ConfigError for %s", err, cfg.Path)
	}
	// The data directory was released.
	s, err := New(context.Background(), serviceFile(t, dir, ca, sts.ModeEnforce), Options{Log: &testenv.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
