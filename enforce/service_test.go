package enforce

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/internal/testenv/testpostfix"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/socketmap"
)

// serviceRun is a Service running in-process.
type serviceRun struct {
	t      testing.TB
	s      *Service
	log    *testenv.Buffer
	cancel context.CancelFunc
	done   chan error
	err    error
	ended  bool
}

// worldConfig returns the configuration in the file at path ("" for
// none) for a service in w: DNS and policy hosts from w, a listener on a
// free loopback port and the cache in memory, unless the file says
// otherwise; adjust changes it further.
func worldConfig(w *testworld.World, path string, adjust ...func(*Config)) (*Config, error) {
	noenv := func(string) string { return "" }
	cfg, err := Load(path, noenv)
	if err != nil {
		return nil, err
	}
	if cfg.Cache == DefaultConfig(noenv).Cache {
		cfg.Cache = "memory:"
	}
	cfg.Listen = []string{"127.0.0.1:0"}
	cfg.Resolver, cfg.CAFile = w.Resolver(), w.CAFile()
	for _, f := range adjust {
		f(cfg)
	}
	return cfg, nil
}

// startService runs the service of the file at path ("" for none) in w,
// with worldConfig, and returns once it listens. SIGHUP reads the file
// again the same way.
func startService(t testing.TB, w *testworld.World, path string, adjust ...func(*Config)) *serviceRun {
	t.Helper()
	return startServiceWith(t, w, path, nil, adjust...)
}

// startServiceAt is startService with the clock now (nil: time.Now).
func startServiceAt(t testing.TB, w *testworld.World, now func() time.Time, path string, adjust ...func(*Config)) *serviceRun {
	t.Helper()
	return startServiceWith(t, w, path, func(o *Options) { o.Now = now }, adjust...)
}

// startServiceWith is startService with the options changed by options.
func startServiceWith(t testing.TB, w *testworld.World, path string, options func(*Options), adjust ...func(*Config)) *serviceRun {
	t.Helper()
	cfg, err := worldConfig(w, path, adjust...)
	if err != nil {
		t.Fatal(err)
	}
	r := &serviceRun{t: t, log: &testenv.Buffer{}, done: make(chan error, 1)}
	o := Options{Log: r.log, Dial: w.DialContext, Getenv: func(string) string { return "" },
		Load: func() (*Config, error) { return worldConfig(w, path, adjust...) }}
	if options != nil {
		options(&o)
	}
	s, err := New(context.Background(), cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		s.Close()
		t.Fatal(err)
	}
	r.s = s
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		err := s.Serve(ctx)
		s.Close()
		r.done <- err
	}()
	t.Cleanup(func() { r.stop() })
	r.waitLog("msg=listening")
	return r
}

// waitLog waits for a log line matching re and returns its submatches.
func (r *serviceRun) waitLog(re string) []string {
	r.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := rx.FindStringSubmatch(r.log.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("service did not log %q:\n%s", re, r.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// addr returns the address of the first listener.
func (r *serviceRun) addr() string { return r.s.Addrs()[0].String() }

// stop stops the service as SIGTERM does and returns what Serve returned.
func (r *serviceRun) stop() error {
	if r.ended {
		return r.err
	}
	r.cancel()
	select {
	case r.err = <-r.done:
		r.ended = true
	case <-time.After(30 * time.Second):
		r.t.Fatalf("service did not stop:\n%s", r.log)
	}
	return r.err
}

// daemonWorld is the test world of the service tests, one domain per
// scenario.
func daemonWorld(t *testing.T) *testworld.World {
	w := testworld.New(t)
	w.DNS.Add("enforce.test. MX 10 mx1.enforce.test.", "enforce.test. MX 20 a.mail.enforce.test.",
		"testing.test. MX 10 mx.testing.test.", "strict.test. MX 10 mx.strict.test.")
	w.PolicyDomain("enforce.test", "version: STSv1\nmode: enforce\nmx: mx1.enforce.test\nmx: *.mail.enforce.test\nmax_age: 86400\n")
	w.PolicyDomain("testing.test", "version: STSv1\nmode: testing\nmx: mx.testing.test\nmax_age: 86400\n")
	w.PolicyDomain("strict.test", "version: STSv1\nmode: testing\nmx: mx.strict.test\nmax_age: 86400\n")
	w.PolicyDomain("none.test", "version: STSv1\nmode: none\nmax_age: 86400\n")
	w.PolicyDomain("iponly.test", "version: STSv1\nmode: enforce\nmx: 192.0.2.25\nmax_age: 86400\n")
	// A temporary DNS failure is not the absence of a record.
	w.DNS.SetRcode("_mta-sts.servfail.test", dns.TypeTXT, dns.RcodeServerFailure)
	// RFC 8461 §4.1: MX hosts the policy does not cover (two labels below
	// the wildcard), or that cannot be looked up.
	w.DNS.Add("deep.test. MX 10 mx.in.deep.test.")
	w.PolicyDomain("deep.test", "version: STSv1\nmode: enforce\nmx: *.deep.test\nmax_age: 86400\n")
	w.PolicyDomain("mxfail.test", "version: STSv1\nmode: enforce\nmx: mx.mxfail.test\nmax_age: 86400\n")
	w.DNS.SetRcode("mxfail.test", dns.TypeMX, dns.RcodeServerFailure)
	return w
}

// The daemon as Postfix's own lookup client sees it: postmap -q for every
// scenario.
func TestDaemonPostmap(t *testing.T) {
	testpostfix.RequirePostmap(t)
	w := daemonWorld(t)
	conf := testenv.WriteConfig(t, `
[policyhost]
ignored = "other commands' sections are left alone"

[daemon]
cache = "memory:"
log_level = "debug"

[daemon.zones."strict.test"]
strict_testing = true
`)
	d := startService(t, w, conf)
	table := "socketmap:inet:" + d.addr() + ":postfix"
	for _, tc := range []struct {
		key    string
		want   string // postmap's output; "" for not found
		status int
		temp   bool
	}{
		{"enforce.test", "secure match=mx1.enforce.test:a.mail.enforce.test servername=hostname\n", 0, false},
		{"Enforce.TEST", "secure match=mx1.enforce.test:a.mail.enforce.test servername=hostname\n", 0, false},
		// RFC 8461 §5: testing and none deliver as without a policy.
		{"testing.test", "", 1, false},
		{"none.test", "", 1, false},
		{"norecord.test", "", 1, false},
		// Known trap: SERVFAIL must defer, not downgrade.
		{"servfail.test", "", 1, true},
		// strict_testing for the zone strict.test.
		{"strict.test", "secure match=mx.strict.test servername=hostname\n", 0, false},
		// Postfix's parent-domain lookups never reach a parent's policy.
		{".enforce.test", "", 1, false},
		// An enforce policy with only an IP address: defer, never an
		// empty match list.
		{"iponly.test", "", 1, true},
		// No MX host covered, or MX hosts unknown: defer.
		{"deep.test", "", 1, true},
		{"mxfail.test", "", 1, true},
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
	if err := d.stop(); err != nil {
		t.Errorf("Serve returned %v after the context ended\n%s", err, d.log)
	}
	if log := d.log.String(); !strings.Contains(log, `msg="lookup deferred" key=servfail.test`) ||
		!strings.Contains(log, `key=iponly.test domain=iponly.test answer=unusable`) {
		t.Errorf("deferrals not logged with their reason:\n%s", log)
	}
}

// 1000 concurrent lookups of one uncached domain cost one TXT lookup and
// one policy fetch.
func TestDaemonOneFetchForConcurrentLookups(t *testing.T) {
	w := testworld.New(t)
	w.DNS.Add("flight.test. MX 10 mx.flight.test.")
	host := w.PolicyDomain("flight.test", "version: STSv1\nmode: enforce\nmx: mx.flight.test\nmax_age: 86400\n")
	// Slow enough that every lookup arrives while the fetch is running.
	host.Set(testworld.PolicyPath, testworld.Response{
		Header: http.Header{"Content-Type": {"text/plain"}},
		Body:   []byte("version: STSv1\nmode: enforce\nmx: mx.flight.test\nmax_age: 86400\n"),
		Delay:  500 * time.Millisecond,
	})
	d := startService(t, w, "")
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
	conf := testenv.WriteConfig(t, "[daemon]\ncache = \"memory:\"\n")
	d := startService(t, w, conf, func(c *Config) { c.Metrics = "127.0.0.1:0" })
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
		before := strings.Count(d.log.String(), wantLog)
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); strings.Count(d.log.String(), wantLog) == before; {
			if time.Now().After(deadline) {
				t.Fatalf("no %q after SIGHUP:\n%s", wantLog, d.log)
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

	d.waitLog(`msg="serving metrics" addr=http://` + regexp.QuoteMeta(d.s.MetricsAddr().String()) + `/metrics`)
	resp, err := http.Get("http://" + d.s.MetricsAddr().String() + "/metrics")
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
	w.DNS.Add("slow.test. MX 10 mx.slow.test.")
	w.PolicyDomain("slow.test", policy).Set(testworld.PolicyPath, testworld.Response{
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte(policy), Delay: 700 * time.Millisecond,
	})
	sock := filepath.Join(t.TempDir(), "socketmap.sock")
	d := startService(t, w, "", func(c *Config) { c.Listen = []string{"unix:" + sock} })
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
	if err := d.stop(); err != nil {
		t.Errorf("Serve returned %v\n%s", err, d.log)
	}
	if r := <-got; r != "OK secure match=mx.slow.test servername=hostname<nil>" {
		t.Errorf("in-flight lookup got %q", r)
	}
}

// A lookup that takes longer than query_timeout is answered TEMP, before
// Postfix's own timeout, and the fetch goes on for the next lookup.
func TestDaemonQueryTimeout(t *testing.T) {
	w := testworld.New(t)
	policy := "version: STSv1\nmode: enforce\nmx: mx.slow.test\nmax_age: 86400\n"
	w.DNS.Add("slow.test. MX 10 mx.slow.test.")
	w.PolicyDomain("slow.test", policy).Set(testworld.PolicyPath, testworld.Response{
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte(policy), Delay: 2 * time.Second,
	})
	conf := testenv.WriteConfig(t, "[daemon]\ncache = \"memory:\"\nquery_timeout = \"300ms\"\n")
	d := startService(t, w, conf)
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

// A reload applies what can change while running and keeps, with a
// warning, what needs a restart; the new settings apply to the next
// lookup.
func TestReloadKeepsRestartOnly(t *testing.T) {
	w := daemonWorld(t)
	d := startService(t, w, "")
	running := *d.s.config.Load()
	next, err := worldConfig(w, "", func(c *Config) {
		c.Listen, c.Cache, c.Maps, c.LogFormat = []string{"127.0.0.1:1"}, "sqlite:///nonexistent/cache.db", []string{"other"}, "json"
		c.Servername = false
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.s.Reload(t.Context(), next); err != nil {
		t.Fatal(err)
	}
	got := d.s.config.Load()
	if !slices.Equal(got.Listen, running.Listen) || got.Cache != running.Cache || !slices.Equal(got.Maps, running.Maps) ||
		got.LogFormat != running.LogFormat || got.Servername {
		t.Errorf("after reload: %+v", got)
	}
	for _, key := range []string{"listen", "cache", "maps", "log_format"} {
		if !strings.Contains(d.log.String(), "setting="+key+" ") {
			t.Errorf("no warning about %s:\n%s", key, d.log)
		}
	}
	c, err := socketmap.Dial(t.Context(), "tcp", d.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r, err := c.Lookup(t.Context(), "postfix", "enforce.test"); err != nil || r.String() != "OK secure match=mx1.enforce.test:a.mail.enforce.test" {
		t.Errorf("after reload: %q, %v", r, err)
	}
}
