package enforce

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
	"github.com/mtasts/mtasts/sts"
)

// On every backend that a daemon shares with the operator's commands: an
// override the operator adds reaches the running service within the
// override TTL of its clock, without a restart, and shows in its answers,
// metrics and log; it ends at its expiry or when removed. The cache
// commands see what the service cached, with the answers it gives.
func TestOperatorWithService(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "cache.db") }},
		{"redis", func(t *testing.T) string { return testservers.StartRedis(t).URL(0) }},
		{"postgres", func(t *testing.T) string { return testservers.StartPostgres(t).NewDatabase(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) { operatorWithService(t, tc.url(t)) })
	}
}

func operatorWithService(t *testing.T, url string) {
	w := daemonWorld(t)
	clk := testclock.New(time.Now()) // the world's certificates are valid around now
	d := startServiceAt(t, w, clk.Now, "", func(c *Config) { c.Cache, c.Metrics, c.Refresh = url, "127.0.0.1:0", false })
	c, err := socketmap.Dial(t.Context(), "tcp", d.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	answers := func(want map[string]string) {
		t.Helper()
		for key, reply := range want {
			if r, err := c.Lookup(t.Context(), "postfix", key); err != nil || strings.TrimSpace(r.String()) != reply {
				t.Errorf("%s: %q, %v; want %q", key, r, err, reply)
			}
		}
	}
	const secure, secureTesting = "OK secure match=mx1.enforce.test:a.mail.enforce.test servername=hostname", "OK secure match=mx.testing.test servername=hostname"
	answers(map[string]string{"enforce.test": secure, "testing.test": "NOTFOUND"})

	cfg, _ := worldConfig(w, "", func(c *Config) { c.Cache = url })
	op, err := OpenOperator(t.Context(), cfg, Options{Now: clk.Now, Getenv: func(k string) string {
		return map[string]string{"SUDO_USER": "alice"}[k]
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	if _, err := op.AddOverride(t.Context(), "enforce.test", sts.ModeTesting, 48*time.Hour, "MX certificate expired", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := op.AddOverride(t.Context(), "Testing.Test", sts.ModeEnforce, time.Hour, "ready early", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := op.AddOverride(t.Context(), "norecord.test", sts.ModeEnforce, time.Hour, "x", ""); !errors.Is(err, ErrNothingToEnforce) {
		t.Errorf("enforce override without a cached policy: %v, want ErrNothingToEnforce", err)
	}

	clk.Advance(resolver.DefaultOverrideTTL)
	answers(map[string]string{"enforce.test": "NOTFOUND", "testing.test": secureTesting})
	d.waitLog(`msg="override in force" domain=enforce.test mode=testing actor=alice reason="MX certificate expired"`)
	metrics := testenv.Scrape(t, "http://"+d.s.MetricsAddr().String()+"/metrics")
	for _, want := range []string{"mtasts_overrides 2", `mtasts_decisions_total{decision="testing",source="override"} 1`,
		`mtasts_decisions_total{decision="enforce",source="override"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	var list, export bytes.Buffer
	if err := op.PrintEntries(t.Context(), &list, false); err != nil {
		t.Fatal(err)
	}
	if err := op.Export(t.Context(), &export, ExportPostfix); err != nil {
		t.Fatal(err)
	}
	if s := list.String(); !strings.Contains(s, "enforce.test") || !strings.Contains(s, "testing.test") || !strings.Contains(s, "2 domains") {
		t.Errorf("cache list:\n%s", s)
	}
	if s := export.String(); !strings.Contains(s, "\ntesting.test\tsecure match=mx.testing.test servername=hostname\n") || strings.Contains(s, "enforce.test") {
		t.Errorf("export with the overrides applied:\n%s", s)
	}

	// testing.test's override expires; enforce.test's is removed.
	clk.Advance(time.Hour)
	answers(map[string]string{"testing.test": "NOTFOUND"})
	d.waitLog(`msg="override ended" domain=testing.test mode=enforce actor=bob how=expired`)
	if err := op.RemoveOverride(t.Context(), "enforce.test"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(resolver.DefaultOverrideTTL)
	answers(map[string]string{"enforce.test": secure})
	d.waitLog(`msg="override ended" domain=enforce.test mode=testing actor=alice how=removed`)

	if n, err := op.Purge(t.Context(), "enforce.test"); err != nil || n != 1 {
		t.Errorf("Purge(enforce.test) = %d, %v", n, err)
	}
	if n, err := op.Purge(t.Context(), ""); err != nil || n != 1 {
		t.Errorf("Purge() = %d, %v; want testing.test", n, err)
	}
	if entries, err := op.Entries(t.Context()); err != nil || len(entries) != 0 {
		t.Errorf("after purging: %v, %v", entries, err)
	}
}

// AddOverride refuses what it cannot apply, with the reason; the memory
// cache keeps overrides for the process that opened it.
func TestOperatorAddOverrideErrors(t *testing.T) {
	cfg, err := worldConfig(daemonWorld(t), "", func(c *Config) { c.Cache = "memory:" })
	if err != nil {
		t.Fatal(err)
	}
	op, err := OpenOperator(t.Context(), cfg, Options{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	for _, tc := range []struct {
		domain, reason string
		mode           sts.Mode
		d              time.Duration
		want           string
	}{
		{"example.com", "why", "off", time.Hour, `mode "off": want enforce, testing or none`},
		{"example.com", "why", "", time.Hour, `mode "": want enforce, testing or none`},
		{"example.com", "why", sts.ModeNone, 0, "must be positive"},
		{"example.com", "", sts.ModeNone, time.Hour, "needs a reason"},
		{"exa mple.com", "why", sts.ModeNone, time.Hour, "invalid domain"},
		{"example.com", "why", sts.ModeEnforce, time.Hour, "no cached policy in mode testing or enforce"},
	} {
		if _, err := op.AddOverride(t.Context(), tc.domain, tc.mode, tc.d, tc.reason, "alice"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddOverride(%q, %q, %v, %q) = %v, want %q", tc.domain, tc.mode, tc.d, tc.reason, err, tc.want)
		}
	}
	o, err := op.AddOverride(t.Context(), "Example.COM", sts.ModeNone, time.Hour, "why", "")
	if err != nil || o.Domain != "example.com" || o.Actor == "" {
		t.Fatalf("AddOverride = %+v, %v; want example.com by the OS user", o, err)
	}
	var out bytes.Buffer
	if err := op.PrintOverrides(t.Context(), &out, false); err != nil || !strings.Contains(out.String(), "example.com") {
		t.Errorf("PrintOverrides: %q, %v", out.String(), err)
	}
	if err := op.RemoveOverride(t.Context(), "example.com"); err != nil {
		t.Error(err)
	}
	if err := op.RemoveOverride(t.Context(), "example.com"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("removing again: %v, want cache.ErrNotFound", err)
	}
}
