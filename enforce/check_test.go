package enforce

import (
	"context"
	"database/sql"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
)

// checkConfig returns a configuration whose state directory, stores and
// sockets are all under dir and do not exist yet: the default cache, TLS
// reports with the default store and a libtlsrpt socket, a UNIX and a TCP
// listener and metrics.
func checkConfig(t *testing.T, dir string) *Config {
	t.Helper()
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o700); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	cfg := DefaultConfig(func(k string) string {
		if k == "STATE_DIRECTORY" {
			return filepath.Join(dir, "state")
		}
		return ""
	})
	cfg.Listen = []string{"127.0.0.1:0", "unix:" + filepath.Join(run, "socketmap.sock")}
	cfg.Metrics = "127.0.0.1:0"
	s := &cfg.TLSRPTSend
	s.Enabled, s.OrganizationName, s.ContactInfo, s.Submitter = true, "O", "c@sender.test", "sender.test"
	s.LibTLSRPTSocket = filepath.Join(run, "tlsrpt.sock")
	return cfg
}

// tree lists the paths under dir.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// Check of a configuration whose state directory, stores and sockets do
// not exist finds nothing wrong and creates none of them; with the state
// directory there, it checks the stores in it and still creates nothing.
func TestCheckWritesNothing(t *testing.T) {
	dir := t.TempDir()
	checkConfig(t, dir) // makes the sockets' directory
	for _, stateDir := range []bool{false, true} {
		if stateDir {
			if err := os.Mkdir(filepath.Join(dir, "state"), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		before := tree(t, dir)
		if err := Check(context.Background(), checkConfig(t, dir), Options{}); err != nil {
			t.Errorf("state directory there: %v: Check = %v", stateDir, err)
		}
		if after := tree(t, dir); !slices.Equal(after, before) {
			t.Errorf("state directory there: %v: Check left %v, was %v", stateDir, after, before)
		}
	}
}

// Check finds what would stop a start, each problem named with its
// setting, and all of them at once.
func TestCheckFindsProblems(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	inUse := held.Addr().String()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	liveStream, liveDgram := filepath.Join(run, "live.sock"), filepath.Join(run, "live-dgram.sock")
	checkConfig(t, dir) // makes run
	ls, err := net.Listen("unix", liveStream)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	ld, err := net.ListenPacket("unixgram", liveDgram)
	if err != nil {
		t.Fatal(err)
	}
	defer ld.Close()
	stale := filepath.Join(run, "stale.sock")
	sl, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	sl.(*net.UnixListener).SetUnlinkOnClose(false)
	sl.Close()
	pgDown := "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=1"

	for _, tc := range []struct {
		name   string
		adjust func(*Config)
		want   []string // nil: no error
	}{
		{"valid", func(*Config) {}, nil},
		{"stale UNIX socket", func(c *Config) { c.Listen = []string{"unix:" + stale} }, nil},
		{"port in use", func(c *Config) { c.Listen = []string{inUse} }, []string{"daemon.listen: " + inUse + ": listen tcp", "address already in use"}},
		{"Exim port in use", func(c *Config) { c.EximListen = []string{inUse} }, []string{"daemon.exim_listen: " + inUse}},
		{"metrics port in use", func(c *Config) { c.Metrics = inUse }, []string{"daemon.metrics: " + inUse}},
		{"UNIX socket in use", func(c *Config) { c.Listen = []string{"unix:" + liveStream} }, []string{"daemon.listen", "a running process holds this socket"}},
		{"UNIX socket path a file", func(c *Config) { c.Listen = []string{"unix:" + file} }, []string{"exists and is not a socket"}},
		{"UNIX socket directory missing", func(c *Config) { c.Listen = []string{"unix:" + filepath.Join(dir, "no", "s.sock")} }, []string{"directory " + filepath.Join(dir, "no") + " does not exist"}},
		{"libtlsrpt socket in use", func(c *Config) { c.TLSRPTSend.LibTLSRPTSocket = liveDgram }, []string{"daemon.tlsrpt_send.libtlsrpt_socket", "a running process holds this socket"}},
		{"state directory below a file", func(c *Config) {
			*c = *DefaultConfig(func(k string) string { return map[string]string{"STATE_DIRECTORY": filepath.Join(file, "state")}[k] })
			c.Listen = []string{"127.0.0.1:0"}
		}, []string{"state directory: ", "not a directory"}},
		{"PostgreSQL cache down", func(c *Config) { c.Cache = pgDown }, []string{"cache: postgres", "connect"}},
		{"PostgreSQL report store down", func(c *Config) { c.TLSRPTSend.Store = pgDown }, []string{"TLS report store: "}},
		{"all at once", func(c *Config) { c.Cache, c.Metrics = pgDown, inUse }, []string{"cache: postgres", "daemon.metrics: " + inUse}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := checkConfig(t, dir)
			tc.adjust(cfg)
			err := Check(context.Background(), cfg, Options{})
			if tc.want == nil {
				if err != nil {
					t.Errorf("Check = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check = nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check = %v, want %q", err, w)
				}
			}
		})
	}
}

// Check connects to the PostgreSQL cache and report store and creates
// no table in them.
func TestCheckPostgres(t *testing.T) {
	pg := testservers.StartPostgres(t)
	url := pg.NewDatabase(t)
	cfg := checkConfig(t, t.TempDir())
	cfg.Cache, cfg.TLSRPTSend.Store = url, url
	if err := Check(context.Background(), cfg, Options{}); err != nil {
		t.Fatalf("Check = %v", err)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("Check created %d tables (%v), want none", n, err)
	}
}

// While the daemon of the configuration runs, the addresses and sockets
// it holds are not in use; with another program on a listen address,
// they are.
func TestCheckWhileRunning(t *testing.T) {
	dir := t.TempDir()
	cfg := checkConfig(t, dir)
	cfg.Cache, cfg.TLSRPTSend.Store = "memory:", "sqlite://"+filepath.Join(dir, "reports.db")
	s, err := New(context.Background(), cfg, Options{Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		s.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() {
		cancel()
		<-done
		s.Close()
	}()
	for i := 0; ; i++ { // the libtlsrpt socket is bound once Serve runs
		if _, err := os.Stat(cfg.TLSRPTSend.LibTLSRPTSocket); err == nil {
			break
		} else if i == 1000 {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	running := func() *Config {
		c := checkConfig(t, dir)
		c.Cache, c.TLSRPTSend.Store = cfg.Cache, cfg.TLSRPTSend.Store
		c.Listen = []string{s.Addrs()[0].String(), cfg.Listen[1]}
		c.Metrics = s.MetricsAddr().String()
		return c
	}
	if err := Check(context.Background(), running(), Options{}); err != nil {
		t.Errorf("Check while the daemon runs = %v", err)
	}

	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	c := running()
	c.Listen = []string{other.Addr().String()}
	err = Check(context.Background(), c, Options{})
	for _, want := range []string{"daemon.listen: " + other.Addr().String(), "daemon.metrics: ", "libtlsrpt_socket"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check with another program on the listen address = %v, want %q", err, want)
		}
	}
}
