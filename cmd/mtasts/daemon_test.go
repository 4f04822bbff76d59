package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/testenv/testpostfix"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/socketmap"
)

// syncBuffer is a bytes.Buffer safe for a writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemonRun is an "mtasts daemon" running in-process.
type daemonRun struct {
	t      testing.TB
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int
	code   int
}

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

// startDaemon runs mtasts daemon with args, outgoing connections going
// into w, and waits until it listens.
func startDaemon(t testing.TB, w *testworld.World, args ...string) *daemonRun {
	t.Helper()
	d := &daemonRun{t: t, stderr: &syncBuffer{}, done: make(chan int, 1), code: -1}
	e := worldEnv(w, io.Discard, d.stderr)
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() { d.done <- run(ctx, append([]string{"daemon"}, args...), e) }()
	t.Cleanup(func() { d.stop() })
	d.waitLog("msg=listening")
	return d
}

// waitLog waits for a log line matching re and returns its submatches.
func (d *daemonRun) waitLog(re string) []string {
	d.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := rx.FindStringSubmatch(d.stderr.String()); m != nil {
			return m
		}
		select {
		case code := <-d.done:
			d.code = code
			d.t.Fatalf("daemon exited with %d before logging %q:\n%s", code, re, d.stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("daemon did not log %q:\n%s", re, d.stderr)
		}
	}
}

// addr returns the n-th address the daemon listens on.
func (d *daemonRun) addr() string {
	d.t.Helper()
	return d.waitLog(`msg=listening addr=(\S+)`)[1]
}

// stop stops the daemon as SIGTERM does and returns its exit status.
func (d *daemonRun) stop() int {
	if d.code >= 0 {
		return d.code
	}
	d.cancel()
	select {
	case d.code = <-d.done:
	case <-time.After(30 * time.Second):
		d.t.Fatalf("daemon did not stop:\n%s", d.stderr)
	}
	return d.code
}

// daemonWorld is the test world of the daemon tests, one domain per
// scenario.
func daemonWorld(t *testing.T) *testworld.World {
	w := testworld.New(t)
	w.PolicyDomain("enforce.test", "version: STSv1\nmode: enforce\nmx: mx1.enforce.test\nmx: *.mail.enforce.test\nmax_age: 86400\n")
	w.PolicyDomain("testing.test", "version: STSv1\nmode: testing\nmx: mx.testing.test\nmax_age: 86400\n")
	w.PolicyDomain("strict.test", "version: STSv1\nmode: testing\nmx: mx.strict.test\nmax_age: 86400\n")
	w.PolicyDomain("none.test", "version: STSv1\nmode: none\nmax_age: 86400\n")
	w.PolicyDomain("relay.test", "version: STSv1\nmode: enforce\nmx: relay.test\nmax_age: 86400\n")
	w.PolicyDomain("iponly.test", "version: STSv1\nmode: enforce\nmx: 192.0.2.25\nmax_age: 86400\n")
	// A temporary DNS failure is not the absence of a record.
	w.DNS.SetRcode("_mta-sts.servfail.test", dns.TypeTXT, dns.RcodeServerFailure)
	return w
}

// writeConfig writes an mtasts.toml and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mtasts.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The daemon as Postfix's own lookup client sees it: postmap -q for every
// scenario.
func TestDaemonPostmap(t *testing.T) {
	testpostfix.RequirePostmap(t)
	w := daemonWorld(t)
	conf := writeConfig(t, `
[policyhost]
ignored = "other commands' sections are left alone"

[daemon]
cache = "memory:"
log_level = "debug"

[daemon.zones."strict.test"]
strict_testing = true
`)
	d := startDaemon(t, w, "--config", conf, "--listen", "127.0.0.1:0", "--resolver", w.Resolver(), "--ca-file", w.CAFile())
	table := "socketmap:inet:" + d.addr() + ":postfix"
	for _, tc := range []struct {
		key    string
		want   string // postmap's output; "" for not found
		status int
		temp   bool
	}{
		{"enforce.test", "secure match=mx1.enforce.test:.mail.enforce.test servername=hostname\n", 0, false},
		{"Enforce.TEST", "secure match=mx1.enforce.test:.mail.enforce.test servername=hostname\n", 0, false},
		// RFC 8461 §5: testing and none deliver as without a policy.
		{"testing.test", "", 1, false},
		{"none.test", "", 1, false},
		{"norecord.test", "", 1, false},
		// Known trap: SERVFAIL must defer, not downgrade.
		{"servfail.test", "", 1, true},
		// strict_testing for the zone strict.test.
		{"strict.test", "secure match=mx.strict.test servername=hostname\n", 0, false},
		// RFC 8461 §3.4: a smart host's domain is the policy domain;
		// address literals have none.
		{"[relay.test]:587", "secure match=relay.test servername=hostname\n", 0, false},
		{"[127.0.0.1]:25", "", 1, false},
		// Postfix's parent-domain lookups never reach a parent's policy.
		{".enforce.test", "", 1, false},
		// An enforce policy with only an IP address: defer, never an
		// empty match list.
		{"iponly.test", "", 1, true},
	} {
		t.Run(tc.key, func(t *testing.T) {
			out, status, err := testpostfix.Postmap(t, tc.key, table)
			if err != nil {
				t.Fatal(err)
			}
			temp := strings.Contains(out, "socketmap server temporary error")
			if status != tc.status || temp != tc.temp || (!tc.temp && out != tc.want) {
				t.Errorf("postmap -q %s: status %d, output %q; want %d, %q, temporary error %v", tc.key, status, out, tc.status, tc.want, tc.temp)
			}
		})
	}
	if code := d.stop(); code != 0 {
		t.Errorf("exit status %d after SIGTERM\n%s", code, d.stderr)
	}
	if log := d.stderr.String(); !strings.Contains(log, `msg="lookup deferred" key=servfail.test`) ||
		!strings.Contains(log, `key=iponly.test domain=iponly.test answer=unusable`) {
		t.Errorf("deferrals not logged with their reason:\n%s", log)
	}
}

// 1000 concurrent lookups of one uncached domain cost one TXT lookup and
// one policy fetch.
func TestDaemonOneFetchForConcurrentLookups(t *testing.T) {
	w := testworld.New(t)
	host := w.PolicyDomain("flight.test", "version: STSv1\nmode: enforce\nmx: mx.flight.test\nmax_age: 86400\n")
	// Slow enough that every lookup arrives while the fetch is running.
	host.Set(testworld.PolicyPath, testworld.Response{
		Header: http.Header{"Content-Type": {"text/plain"}},
		Body:   []byte("version: STSv1\nmode: enforce\nmx: mx.flight.test\nmax_age: 86400\n"),
		Delay:  500 * time.Millisecond,
	})
	d := startDaemon(t, w, "--listen", "127.0.0.1:0", "--cache", "memory:", "--resolver", w.Resolver(), "--ca-file", w.CAFile())
	addr := d.addr()

	const n = 1000
	replies := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			c, err := socketmap.Dial(t.Context(), "tcp", addr)
			if err != nil {
				replies <- err.Error()
				return
			}
			defer c.Close()
			r, err := c.Lookup(t.Context(), "postfix", "flight.test")
			if err != nil {
				replies <- err.Error()
				return
			}
			replies <- r.String()
		})
	}
	wg.Wait()
	close(replies)
	for r := range replies {
		if r != "OK secure match=mx.flight.test servername=hostname" {
			t.Fatalf("reply %q", r)
		}
	}
	if q, f := w.DNS.Queries("_mta-sts.flight.test", dns.TypeTXT), host.Requests(testworld.PolicyPath); q != 1 || f != 1 {
		t.Errorf("%d TXT lookups and %d fetches for %d concurrent lookups, want 1 and 1", q, f, n)
	}
}

// SIGHUP reloads the configuration file; a broken file keeps the running
// configuration. Metrics count the answers.
func TestDaemonReloadAndMetrics(t *testing.T) {
	w := daemonWorld(t)
	conf := writeConfig(t, "[daemon]\ncache = \"memory:\"\n")
	d := startDaemon(t, w, "--config", conf, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
		"--resolver", w.Resolver(), "--ca-file", w.CAFile())
	c, err := socketmap.Dial(t.Context(), "tcp", d.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lookup := func(key string) string {
		t.Helper()
		r, err := c.Lookup(t.Context(), "postfix", key)
		if err != nil {
			t.Fatal(err)
		}
		return r.String()
	}
	if got := lookup("testing.test"); got != "NOTFOUND " {
		t.Fatalf("before reload: %q", got)
	}

	hup := func(wantLog string) {
		t.Helper()
		before := strings.Count(d.stderr.String(), wantLog)
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); strings.Count(d.stderr.String(), wantLog) == before; {
			if time.Now().After(deadline) {
				t.Fatalf("no %q after SIGHUP:\n%s", wantLog, d.stderr)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	os.WriteFile(conf, []byte("[daemon]\ncache = \"memory:\"\ntlsrpt = true\n[daemon.default_zone]\nstrict_testing = true\n"), 0o644)
	hup("configuration reloaded")
	if got := lookup("testing.test"); !strings.HasPrefix(got, "OK secure match=mx.testing.test servername=hostname policy_type=sts policy_domain=testing.test { policy_string = version: STSv1 }") {
		t.Errorf("after reload: %q", got)
	}
	os.WriteFile(conf, []byte("[daemon]\nno_such_key = 1\n"), 0o644)
	hup("reload failed")
	if got := lookup("testing.test"); !strings.HasPrefix(got, "OK secure") {
		t.Errorf("a broken file changed the configuration: %q", got)
	}

	metricsURL := d.waitLog(`msg="serving metrics" addr=(\S+)`)[1]
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`mtasts_queries_total{answer="testing"} 3`,
		`mtasts_cache_hits_total 2`,
		`mtasts_cache_misses_total 1`,
		`mtasts_policy_fetches_total{outcome="ok"} 1`,
		`mtasts_socketmap_reply_seconds_count{status="OK"} 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// SIGTERM lets a lookup in flight finish and its reply go out.
func TestDaemonDrainsOnShutdown(t *testing.T) {
	w := testworld.New(t)
	policy := "version: STSv1\nmode: enforce\nmx: mx.slow.test\nmax_age: 86400\n"
	w.PolicyDomain("slow.test", policy).Set(testworld.PolicyPath, testworld.Response{
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte(policy), Delay: 700 * time.Millisecond,
	})
	sock := filepath.Join(t.TempDir(), "socketmap.sock")
	d := startDaemon(t, w, "--listen", "unix:"+sock, "--cache", "memory:", "--resolver", w.Resolver(), "--ca-file", w.CAFile())
	c, err := socketmap.Dial(t.Context(), "unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan string, 1)
	go func() {
		r, err := c.Lookup(context.Background(), "sts", "slow.test")
		got <- fmt.Sprint(r.String(), err)
	}()
	time.Sleep(200 * time.Millisecond) // the lookup is in flight
	if code := d.stop(); code != 0 {
		t.Errorf("exit status %d\n%s", code, d.stderr)
	}
	if r := <-got; r != "OK secure match=mx.slow.test servername=hostname<nil>" {
		t.Errorf("in-flight lookup got %q", r)
	}
}

func TestDaemonBadConfig(t *testing.T) {
	for _, tc := range []struct{ name, conf, want string }{
		{"unknown key", "[daemon]\nlisen = [\"127.0.0.1:1\"]\n", "unknown keys daemon.lisen"},
		{"bad zone", "[daemon.zones.\"exa mple\"]\nstrict_testing = true\n", "zone"},
		{"bad dns failure", "[daemon.default_zone]\non_dns_failure = \"ignore\"\n", "on_dns_failure"},
		{"bad listen", "[daemon]\nlisten = [\"localhost\"]\n", "listen address"},
		{"not toml", "[daemon\n", "config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, nil, "", "daemon", "--config", writeConfig(t, tc.conf))
			if r.code != exitCannotRun || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("code %d, stderr %q; want 3 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

// The example configuration loads, and documents every key of [daemon]
// (keys without a default, such as dane, as a commented-out line).
func TestDaemonExampleConfig(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "mtasts.example.toml")
	c, err := loadDaemonConfig(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if z, name := c.zone("mx.example.com"); name != "example.com" || !*z.StrictTesting || z.OnDNSFailure != onDNSFailureTempfail {
		t.Errorf("zone of mx.example.com: %q %+v", name, z)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[daemonConfig](), reflect.TypeFor[zoneConfig]()} {
		for f := range typ.Fields() {
			if key := f.Tag.Get("toml"); key != "" && key != "zones" && key != "default_zone" &&
				!regexp.MustCompile(`(?m)^(# )?`+key+` = `).Match(text) {
				t.Errorf("key %s is not documented in %s", key, path)
			}
		}
	}
	// Under systemd the default cache is in StateDirectory.
	c, err = loadDaemonConfig("", func(k string) string { return map[string]string{"STATE_DIRECTORY": "/var/lib/mtasts-daemon"}[k] })
	if err != nil || c.Cache != "sqlite:///var/lib/mtasts-daemon/cache.db" {
		t.Errorf("cache under systemd: %q, %v", c.Cache, err)
	}
}

// A lookup that takes longer than query_timeout is answered TEMP, before
// Postfix's own timeout, and the fetch goes on for the next lookup.
func TestDaemonQueryTimeout(t *testing.T) {
	w := testworld.New(t)
	policy := "version: STSv1\nmode: enforce\nmx: mx.slow.test\nmax_age: 86400\n"
	w.PolicyDomain("slow.test", policy).Set(testworld.PolicyPath, testworld.Response{
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte(policy), Delay: 2 * time.Second,
	})
	conf := writeConfig(t, "[daemon]\ncache = \"memory:\"\nquery_timeout = \"300ms\"\n")
	d := startDaemon(t, w, "--config", conf, "--listen", "127.0.0.1:0", "--resolver", w.Resolver(), "--ca-file", w.CAFile())
	c, err := socketmap.Dial(t.Context(), "tcp", d.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	r, err := c.Lookup(t.Context(), "postfix", "slow.test")
	if err != nil || r.Status != socketmap.StatusTemp || time.Since(start) > time.Second {
		t.Fatalf("got %q, %v after %v; want TEMP within a second", r, err, time.Since(start))
	}
	time.Sleep(2 * time.Second)
	if r, err := c.Lookup(t.Context(), "postfix", "slow.test"); err != nil || r.String() != "OK secure match=mx.slow.test servername=hostname" {
		t.Errorf("after the fetch: %q, %v", r, err)
	}
}
