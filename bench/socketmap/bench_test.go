// Package socketmapbench compares mtasts daemon with the Python
// mta-sts-daemon (Debian's postfix-mta-sts-resolver) and a constant-answer
// server over the socketmap protocol. Run it with run.sh; it is skipped
// unless MTASTS_BENCH=1.
package socketmapbench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testpostfix"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/socketmap"
)

// server is one socketmap server under test, running inside the
// benchmark's network namespace.
type server struct {
	name   string
	addr   string // inside the namespace, or a socket path for "unix"
	unix   bool   // addr is a UNIX-domain socket
	pid    int
	prefix string // every answer must start with it
	ns     *testpostfix.Namespace
}

func (s *server) dial(ctx context.Context) (net.Conn, error) {
	if s.unix {
		var d net.Dialer
		return d.DialContext(ctx, "unix", s.addr)
	}
	return s.ns.Dial(ctx, "tcp", s.addr)
}

// startServer runs a server in ns with its output in dir/<name>.log and
// waits until it accepts connections.
func startServer(t *testing.T, ns *testpostfix.Namespace, dir, name, addr, prefix string, env []string, argv ...string) *server {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := ns.Command(context.Background(), argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	if extra := os.Getenv("MTASTS_BENCH_SERVER_ENV"); extra != "" {
		cmd.Env = append(cmd.Env, strings.Fields(extra)...)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	s := &server{name: name, addr: addr, pid: cmd.Process.Pid, prefix: prefix, ns: ns}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		s.addr, s.unix = path, true
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := s.dial(context.Background())
		if err == nil {
			c.Close()
			return s
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
			t.Fatalf("%s exited: %s", name, b)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not accept connections on %s: %v", name, addr, err)
		}
	}
}

// benchEnv is what every phase needs: the world, the namespace showing
// it, and the paths of the programs.
type benchEnv struct {
	w           *testworld.World
	ns          *testpostfix.Namespace
	dir         string
	caFile      string
	mtasts      string
	ceiling     string
	floor       string
	pythonSTS   string
	seconds     time.Duration
	warm, cold  []string
	connections []int
	servers     []string
	cacheURL    string // of the mtasts daemon; "" means SQLite in dir
	unix        bool   // servers listen on UNIX-domain sockets, not TCP
}

// listenAddr is where the server name listens: 127.0.0.1:port, or with
// MTASTS_BENCH_NETWORK=unix a socket in the benchmark's directory, as
// "unix:PATH".
func (e *benchEnv) listenAddr(name, port string) string {
	if e.unix {
		return "unix:" + filepath.Join(e.dir, name+".sock")
	}
	return "127.0.0.1:" + port
}

func setup(t *testing.T) *benchEnv {
	if os.Getenv("MTASTS_BENCH") != "1" {
		t.Skip("benchmark: run bench/socketmap/run.sh (MTASTS_BENCH=1)")
	}
	if why := testpostfix.Available(); why != "" {
		t.Skip(why)
	}
	e := &benchEnv{
		mtasts:      os.Getenv("MTASTS_BIN"),
		ceiling:     os.Getenv("CEILING_BIN"),
		floor:       os.Getenv("FLOOR_BIN"),
		pythonSTS:   "/usr/bin/mta-sts-daemon",
		seconds:     5 * time.Second,
		dir:         t.TempDir(),
		connections: []int{1, 8, 64},
		servers:     []string{"floor", "ceiling", "mtasts", "python-internal", "python-sqlite"},
		cacheURL:    os.Getenv("MTASTS_BENCH_CACHE"),
	}
	switch n := os.Getenv("MTASTS_BENCH_NETWORK"); n {
	case "", "tcp":
	case "unix":
		e.unix = true
	default:
		t.Fatalf("MTASTS_BENCH_NETWORK=%q: want tcp or unix", n)
	}
	if s := os.Getenv("MTASTS_BENCH_SERVERS"); s != "" {
		e.servers = strings.Split(s, ",")
	}
	if s := os.Getenv("MTASTS_BENCH_CONNS"); s != "" {
		e.connections = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			e.connections = append(e.connections, n)
		}
	}
	if s := os.Getenv("MTASTS_BENCH_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		e.seconds = time.Duration(n) * time.Second
	}
	if e.mtasts == "" || e.ceiling == "" {
		t.Fatal("MTASTS_BIN and CEILING_BIN must name the built programs")
	}
	nwarm := 1000
	if s := os.Getenv("MTASTS_BENCH_WARM"); s != "" {
		nwarm, _ = strconv.Atoi(s)
	}
	for i := range nwarm {
		e.warm = append(e.warm, fmt.Sprintf("warm%d.bench", i))
	}
	for i := range 10000 {
		e.cold = append(e.cold, fmt.Sprintf("cold%d.bench", i))
	}
	e.w = testworld.New(t)
	f := newFarm(t, e.w, append(append([]string(nil), e.warm...), e.cold...))
	e.ns = testpostfix.NewNamespace(t)
	e.ns.ServeDNS(e.w.DNS)
	target := net.JoinHostPort(f.ip, "443")
	e.ns.Forward(target, func(ctx context.Context) (net.Conn, error) { return e.w.DialContext(ctx, "tcp", target) })
	e.caFile = e.w.CAFile()
	return e
}

// pythonConfig writes a configuration for mta-sts-daemon: the given cache
// type, and cache_grace long enough that a warm entry is answered from
// the cache for the whole run, without a DNS lookup.
func (e *benchEnv) pythonConfig(t *testing.T, name, port, cacheType string) string {
	cacheOpts := "    cache_size: 20000\n"
	if cacheType == "sqlite" {
		cacheOpts = "    filename: " + filepath.Join(e.dir, name+".db") + "\n"
	}
	listen := "host: 127.0.0.1\nport: " + port + "\nreuse_port: true\n"
	if path, ok := strings.CutPrefix(e.listenAddr(name, port), "unix:"); ok {
		listen = "path: " + path + "\nmode: 0666\n"
	}
	cfg := listen + "cache_grace: 86400\nshutdown_timeout: 5\n" +
		"cache:\n  type: " + cacheType + "\n  options:\n" + cacheOpts +
		"default_zone:\n  strict_testing: false\n  timeout: 10\n"
	path := filepath.Join(e.dir, name+".yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startMtasts starts mtasts daemon with its default cache (SQLite, behind
// the in-process layer) unless MTASTS_BENCH_CACHE names another, and a
// recheck interval as long as the Python daemon's cache_grace below, so
// that both answer warm domains from their caches alone.
func (e *benchEnv) startMtasts(t *testing.T, name, port string) *server {
	cacheURL := e.cacheURL
	if cacheURL == "" {
		cacheURL = "sqlite://" + filepath.Join(e.dir, name+".db")
	}
	addr := e.listenAddr(name, port)
	return startServer(t, e.ns, e.dir, name, addr, "OK secure match=", nil,
		e.mtasts, "daemon", "--listen", addr, "--resolver", "127.0.0.1:53",
		"--ca-file", e.caFile, "--cache", cacheURL, "--recheck-interval", "24h")
}

func (e *benchEnv) startPython(t *testing.T, name, port, cacheType string) *server {
	return startServer(t, e.ns, e.dir, name, e.listenAddr(name, port), "OK secure match=", []string{"SSL_CERT_FILE=" + e.caFile},
		e.pythonSTS, "-v", "warn", "-c", e.pythonConfig(t, name, port, cacheType))
}

// warmUp asks s for every domain once and checks that each is answered
// with an enforce policy.
func warmUp(t *testing.T, s *server, domains []string) {
	t.Helper()
	res, err := runQueries(context.Background(), s, 8, domains)
	if err != nil || res.errors > 0 {
		t.Fatalf("%s: warm-up: %d errors, %v", s.name, res.errors, err)
	}
}

// TestCachedAnswers measures cached answers at 1, 8 and 64 connections.
func TestCachedAnswers(t *testing.T) {
	e := setup(t)
	start := map[string]func() *server{
		"ceiling": func() *server {
			addr := e.listenAddr("ceiling", "8463")
			return startServer(t, e.ns, e.dir, "ceiling", addr, "OK secure match=", nil, e.ceiling, "-listen", addr)
		},
		"floor": func() *server {
			if e.floor == "" {
				t.Fatal("FLOOR_BIN must name the built bench/socketmap/floor")
			}
			addr := e.listenAddr("floor", "8465")
			return startServer(t, e.ns, e.dir, "floor", addr, "OK secure match=", nil, e.floor, "-listen", addr)
		},
		"mtasts":          func() *server { return e.startMtasts(t, "mtasts", "8461") },
		"python-internal": func() *server { return e.startPython(t, "python-internal", "8462", "internal") },
		"python-sqlite":   func() *server { return e.startPython(t, "python-sqlite", "8464", "sqlite") },
	}
	var servers []*server
	for _, name := range e.servers {
		s := start[name]()
		if name != "ceiling" && name != "floor" {
			warmUp(t, s, e.warm)
		}
		servers = append(servers, s)
	}
	fmt.Printf("\n| server | connections | queries/s | p50 | p99 | CPU per answer | errors |\n|---|---|---|---|---|---|---|\n")
	for _, conns := range e.connections {
		for _, s := range servers {
			r, err := runLoad(context.Background(), s.dial, s.pid, conns, e.seconds, "postfix", e.warm, s.prefix)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			fmt.Printf("| %s | %d | %.0f | %s | %s | %.1f µs | %d |\n", s.name, conns, r.qps(),
				micros(r.p50), micros(r.p99), float64(r.cpuPerAnswer().Nanoseconds())/1e3, r.errors)
		}
	}
}

// TestUncachedDomains asks each daemon, fresh, for 10 000 domains it has
// never seen, over 64 connections, and reports the time to answer them
// all and the daemon's peak RSS.
func TestUncachedDomains(t *testing.T) {
	e := setup(t)
	fmt.Printf("\n| server | domains | connections | time | answers/s | server CPU | peak RSS | errors |\n|---|---|---|---|---|---|---|---|\n")
	start := map[string]func() *server{
		"mtasts":          func() *server { return e.startMtasts(t, "mtasts-cold", "8471") },
		"python-internal": func() *server { return e.startPython(t, "python-cold", "8472", "internal") },
	}
	for _, name := range e.servers {
		if start[name] == nil {
			continue
		}
		s := start[name]()
		cpu0, err := processCPU(s.pid)
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		r, err := runQueries(context.Background(), s, 64, e.cold)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		took := time.Since(began)
		cpu1, err := processCPU(s.pid)
		if err != nil {
			t.Fatal(err)
		}
		rss, err := peakRSS(s.pid)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("| %s | %d | 64 | %.2f s | %.0f | %.2f s | %.1f MiB | %d |\n", s.name, len(e.cold), took.Seconds(),
			float64(len(e.cold))/took.Seconds(), (cpu1 - cpu0).Seconds(), float64(rss)/(1<<20), r.errors)
	}
}

// runQueries asks s once for each of domains over conns connections and
// counts the answers that are not an enforce policy.
func runQueries(ctx context.Context, s *server, conns int, domains []string) (loadResult, error) {
	next := make(chan string, len(domains))
	for _, d := range domains {
		next <- d
	}
	close(next)
	errc := make(chan error, conns)
	bad := make(chan int, conns)
	for range conns {
		go func() {
			nc, err := s.dial(ctx)
			if err != nil {
				errc <- err
				bad <- 0
				return
			}
			c := socketmap.NewClient(nc)
			defer c.Close()
			n := 0
			for d := range next {
				r, err := c.Lookup(ctx, "postfix", d)
				if err != nil || !strings.HasPrefix(r.String(), s.prefix) {
					n++
				}
			}
			errc <- nil
			bad <- n
		}()
	}
	var res loadResult
	var first error
	for range conns {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
		res.errors += <-bad
	}
	res.answers = len(domains) - res.errors
	return res, first
}

// micros formats a latency in microseconds or milliseconds.
func micros(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1e3)
}
