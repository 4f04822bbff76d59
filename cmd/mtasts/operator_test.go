package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
)

// startDaemon runs "mtasts daemon" with args in e until the test ends and
// returns the address it listens on.
func startDaemon(t *testing.T, e *env, stderr *testenv.Buffer, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"daemon"}, args...), e) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("daemon: exit status %d after SIGTERM\n%s", code, stderr)
		}
	})
	listening := regexp.MustCompile(`msg=listening addr=(\S+)`)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("the daemon did not listen:\n%s", stderr)
		}
	}
}

// An override added with the command reaches the daemon running on the
// same cache without a restart, and the cache commands show what the
// daemon cached and answers.
func TestOverrideReachesDaemon(t *testing.T) {
	w := testworld.New(t)
	w.PolicyDomain("enforce.test", "version: STSv1\nmode: enforce\nmx: mx.enforce.test\nmax_age: 86400\n")
	w.DNS.Add("enforce.test. MX 10 mx.enforce.test.")
	// The cache commands look up MX hosts with the configuration's
	// resolver, as the daemon does.
	conf := testenv.WriteConfig(t, "[daemon]\ncache = \"sqlite:cache.db\"\nrefresh = false\nresolver = \""+w.Resolver()+"\"\n") // beside the file
	clk := testclock.New(time.Now())
	stderr := &testenv.Buffer{}
	e := worldEnv(w, io.Discard, stderr)
	e.now = clk.Now
	addr := startDaemon(t, e, stderr, "--config", conf, "--listen", "127.0.0.1:0", "--resolver", w.Resolver(), "--ca-file", w.CAFile())
	c, err := socketmap.Dial(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lookup := func(want string) {
		t.Helper()
		if r, err := c.Lookup(t.Context(), "postfix", "enforce.test"); err != nil || strings.TrimSpace(r.String()) != want {
			t.Fatalf("lookup: %q, %v; want %q", r, err, want)
		}
	}
	const secure = "OK secure match=mx.enforce.test servername=hostname"
	lookup(secure)

	op := func(code int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		oe := worldEnv(w, &out, &errb)
		oe.now = clk.Now
		if got := run(t.Context(), append(args, "--config", conf), oe); got != code {
			t.Fatalf("%v: exit status %d, want %d\n%s%s", args, got, code, out.String(), errb.String())
		}
		return out.String()
	}
	if out := op(exitOK, "override", "add", "enforce.test", "--mode", "testing", "--for", "48h", "--reason", "MX certificate expired", "--actor", "alice"); !strings.HasPrefix(out, "override enforce.test: mode testing until ") {
		t.Errorf("override add: %q", out)
	}
	op(exitCannotRun, "override", "add", "enforce.test", "--mode", "off", "--for", "1h", "--reason", "x")
	op(exitCannotRun, "override", "add", "enforce.test", "--mode", "none", "--for", "1h")
	clk.Advance(resolver.DefaultOverrideTTL)
	lookup("NOTFOUND")
	cacheURL := "sqlite://" + filepath.Join(filepath.Dir(conf), "cache.db")
	if out := op(exitOK, "query", "--cache", cacheURL, "enforce.test"); !strings.Contains(out, "override  enforce.test: mode testing until") ||
		!strings.Contains(out, "source    override") {
		t.Errorf("query:\n%s", out)
	}

	var q struct {
		Source   resolver.Source        `json:"source"`
		Override *resolver.OverrideJSON `json:"override"`
	}
	if err := json.Unmarshal([]byte(op(exitOK, "query", "--cache", cacheURL, "--json", "enforce.test")), &q); err != nil ||
		q.Source != resolver.SourceOverride || q.Override == nil || q.Override.Reason != "MX certificate expired" {
		t.Errorf("query --json: %+v, %v", q, err)
	}
	var list []resolver.OverrideJSON
	if err := json.Unmarshal([]byte(op(exitOK, "override", "list", "--json")), &list); err != nil || len(list) != 1 || list[0].Actor != "alice" {
		t.Errorf("override list --json: %+v, %v", list, err)
	}
	if out := op(exitOK, "cache", "list"); !regexp.MustCompile(`(?m)^enforce\.test +enforce .* NOTFOUND$`).MatchString(out) {
		t.Errorf("cache list:\n%s", out)
	}
	var entries []struct{ Domain, Mode, Postfix string }
	if err := json.Unmarshal([]byte(op(exitOK, "cache", "list", "--json")), &entries); err != nil || len(entries) != 1 ||
		entries[0].Domain != "enforce.test" || entries[0].Mode != "enforce" || entries[0].Postfix != "NOTFOUND" {
		t.Errorf("cache list --json: %+v, %v", entries, err)
	}
	if out := op(exitOK, "cache", "show", "enforce.test"); !strings.Contains(out, "override  enforce.test: mode testing") || !strings.Contains(out, "mx        mx.enforce.test") {
		t.Errorf("cache show:\n%s", out)
	}
	if out := op(exitOK, "cache", "export", "--format", "postfix"); strings.Contains(out, "enforce.test") {
		t.Errorf("export with a testing override:\n%s", out)
	}
	op(exitOK, "override", "remove", "enforce.test")
	op(exitErrors, "override", "remove", "enforce.test")
	clk.Advance(resolver.DefaultOverrideTTL)
	lookup(secure)
	if out := op(exitOK, "cache", "export", "--format", "postfix"); !strings.Contains(out, "\nenforce.test\tsecure match=mx.enforce.test servername=hostname\n") {
		t.Errorf("export:\n%s", out)
	}
	if out := op(exitOK, "cache", "purge"); out != "purged 1 cached policies\n" {
		t.Errorf("cache purge: %q", out)
	}
	if !strings.Contains(stderr.String(), `msg="override in force" domain=enforce.test mode=testing actor=alice`) {
		t.Errorf("the daemon did not log the override:\n%s", stderr)
	}
}
