package serve

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/policyhost"
)

// Check finds what a start would fail on (the store, the data directory,
// a listen address) and writes nothing; a port held by the running server
// of the same data directory is no problem.
func TestCheck(t *testing.T) {
	ca := testworld.NewCA(t, "serve test CA")
	used := portInUse(t)
	tests := []struct {
		name    string
		reports string
		change  func(t *testing.T, c *Config)
		want    []string // in the error; none for no error
	}{
		{name: "valid"},
		{name: "report store directory missing", reports: `db = "sqlite:missing/store.db"`, want: []string{"report store", "missing does not exist"}},
		{name: "report store unreachable", reports: `db = "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=5"`, want: []string{"report store", "127.0.0.1"}},
		{name: "HTTPS address in use", change: func(_ *testing.T, c *Config) { c.ListenHTTPS = used },
			want: []string{"serve.listen_https", "address already in use"}},
		{name: "two problems", change: func(_ *testing.T, c *Config) {
			c.ListenMetrics = used
			c.Reports.SMTPListen = "127.0.0.1:no-such-port"
		}, want: []string{"serve.listen_metrics", "serve.reports.smtp_listen"}},
		{name: "address in use by the running server", change: func(t *testing.T, c *Config) {
			lock, err := policyhost.LockDataDir(c.DataDir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { lock.Release() })
			c.ListenHTTPS = used
		}},
		{name: "data directory not creatable", change: func(t *testing.T, c *Config) {
			file := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(file, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			c.DataDir = filepath.Join(file, "data")
		}, want: []string{"data directory", "not a directory"}},
		{name: "ACME ca_file missing", change: func(t *testing.T, c *Config) {
			c.ACME.Enabled, c.ACME.AgreeTOS, c.ACME.CAFile = true, true, filepath.Join(t.TempDir(), "missing.pem")
		}, want: []string{"acme ca_file", "missing.pem"}},
		{name: "policy state unreadable", change: func(t *testing.T, c *Config) {
			if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(c.DataDir, policyhost.StateFile), []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"policy state"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadChanged(t, ca, tt.reports, tt.change)
			dataDirBefore := exists(cfg.DataDir)
			err := Check(context.Background(), cfg)
			if len(tt.want) == 0 && err != nil {
				t.Errorf("Check = %v", err)
			}
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Check = %v, want an error with %q", err, w)
				}
			}
			if !dataDirBefore && exists(cfg.DataDir) {
				t.Errorf("Check created the data directory %s", cfg.DataDir)
			}
			for _, f := range []string{"reports.db", policyhost.LockFile} {
				if !dataDirBefore && exists(filepath.Join(cfg.DataDir, f)) {
					t.Errorf("Check left %s", f)
				}
			}
		})
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
