package serve

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/sts"
)

// portInUse returns the address of a listener held until the test ends.
func portInUse(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

// loadChanged loads the configuration of writeServiceFile, written into a
// new directory with the lines reports, and applies change, if set.
func loadChanged(t *testing.T, ca *testworld.CA, reports string, change func(*testing.T, *Config)) *Config {
	t.Helper()
	cfg, err := Load(writeServiceFile(t, t.TempDir(), ca, sts.ModeEnforce, reports))
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(t, cfg)
	}
	return cfg
}

// startService runs New, Listen and a Serve that ends at once, as a
// start and stop of "mtasts serve" would, and returns the first error.
func startService(cfg *Config) error {
	s, err := New(context.Background(), cfg, Options{Log: &testenv.Buffer{}})
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Listen(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.Serve(ctx)
}

// A configuration file named by a relative path, from another working
// directory, with a relative data directory: every relative path of the
// file is taken from its directory, the report store included, and the
// default store follows the data directory wherever a flag moves it.
func TestServiceRelativePaths(t *testing.T) {
	ca := testworld.NewCA(t, "serve test CA")
	tests := []struct {
		name    string
		reports string // lines added to [serve.reports]
		dataDir string // overrides data_dir as --data-dir does, if set
		want    []string
		notWant []string
	}{
		{name: "default store", want: []string{"conf/data/reports.db", "conf/data/" + policyhost.StateFile}},
		{name: "relative sqlite: store", reports: `db = "sqlite:store.db"`, want: []string{"conf/store.db", "conf/data/" + policyhost.StateFile}},
		{name: "sqlite: store in a subdirectory", reports: `db = "sqlite:data/other.db"`, want: []string{"conf/data/other.db"}},
		{name: "data directory moved", dataDir: "elsewhere",
			want: []string{"elsewhere/reports.db", "elsewhere/" + policyhost.StateFile}, notWant: []string{"conf/data/reports.db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.Mkdir(filepath.Join(root, "conf"), 0o755); err != nil {
				t.Fatal(err)
			}
			writeServiceFile(t, filepath.Join(root, "conf"), ca, sts.ModeEnforce, tt.reports)
			t.Chdir(root)
			cfg, err := Load(filepath.Join("conf", "mtasts.toml"))
			if err != nil {
				t.Fatal(err)
			}
			if tt.dataDir != "" {
				cfg.DataDir = tt.dataDir
			}
			if err := startService(cfg); err != nil {
				t.Fatalf("start: %v", err)
			}
			for _, f := range tt.want {
				if _, err := os.Stat(filepath.Join(root, f)); err != nil {
					t.Errorf("%s: %v", f, err)
				}
			}
			for _, f := range tt.notWant {
				if _, err := os.Stat(filepath.Join(root, f)); err == nil {
					t.Errorf("%s exists", f)
				}
			}
		})
	}
}

// A start that fails writes nothing: whatever fails, the report store or
// a listener, neither the state file nor the store is written, so that
// the ids handed out are those of a server that ran.
func TestServiceFailedStartWritesNothing(t *testing.T) {
	ca := testworld.NewCA(t, "serve test CA")
	used := portInUse(t)
	tests := []struct {
		name    string
		reports string
		change  func(*testing.T, *Config)
	}{
		{name: "report store directory missing", reports: `db = "sqlite:missing/store.db"`},
		{name: "report store URL bad", reports: `db = "sqlite://host/store.db"`},
		{name: "HTTPS address in use", change: func(_ *testing.T, c *Config) { c.ListenHTTPS = used }},
		{name: "metrics address in use", change: func(_ *testing.T, c *Config) { c.ListenMetrics = used }},
		{name: "report mail address in use", change: func(_ *testing.T, c *Config) { c.Reports.SMTPListen = used }},
		{name: "ACME ca_file missing", change: func(t *testing.T, c *Config) {
			c.ACME.Enabled, c.ACME.AgreeTOS, c.ACME.CAFile = true, true, filepath.Join(t.TempDir(), "missing.pem")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadChanged(t, ca, tt.reports, tt.change)
			if err := startService(cfg); err == nil {
				t.Fatal("the start succeeded")
			}
			for _, f := range []string{policyhost.StateFile, "reports.db"} {
				if _, err := os.Stat(filepath.Join(cfg.DataDir, f)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s after a failed start: %v", f, err)
				}
			}
			// The same configuration, once it can start, writes the ids.
			cfg, err := Load(cfg.Path)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Store.URL = ""
			if err := startService(cfg); err != nil {
				t.Fatalf("start: %v", err)
			}
			if _, err := os.Stat(filepath.Join(cfg.DataDir, policyhost.StateFile)); err != nil {
				t.Errorf("after a start: %v", err)
			}
		})
	}
}
