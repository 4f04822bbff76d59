package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// queryOutput is the JSON output of mtasts query, as read back.
type queryOutput struct {
	Domain   string   `json:"domain"`
	Decision string   `json:"decision"`
	MX       []string `json:"mx"`
	ID       string   `json:"id"`
	MaxAge   int64    `json:"max_age"`
	Source   string   `json:"source"`
	Reason   string   `json:"reason"`
	Postfix  string   `json:"postfix"`
}

// runQueryCmd runs mtasts with args against w, on the real clock.
func runQueryCmd(t *testing.T, w *testworld.World, args ...string) cmdResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, worldEnv(w, &out, &errb))
	return cmdResult{code: code, stdout: out.String(), stderr: errb.String()}
}

func runQueryJSON(t *testing.T, r cmdResult) queryOutput {
	t.Helper()
	var q queryOutput
	if err := json.Unmarshal([]byte(r.stdout), &q); err != nil {
		t.Fatalf("%v\nstdout %s\nstderr %s", err, r.stdout, r.stderr)
	}
	return q
}

// queryWorld is the test world of the query tests. Package enforce tests
// the answer to each kind of key; these test the output and exit status.
func queryWorld(t *testing.T) *testworld.World {
	w := testworld.New(t)
	w.DNS.Add("enforce.test. MX 10 mx1.enforce.test.", "enforce.test. MX 20 a.mail.enforce.test.", "strict.test. MX 10 mx.strict.test.")
	w.PolicyDomain("enforce.test", "version: STSv1\nmode: enforce\nmx: mx1.enforce.test\nmx: *.mail.enforce.test\nmax_age: 86400\n")
	w.PolicyDomain("strict.test", "version: STSv1\nmode: testing\nmx: mx.strict.test\nmax_age: 86400\n")
	w.PolicyDomain("iponly.test", "version: STSv1\nmode: enforce\nmx: 192.0.2.25\nmax_age: 86400\n")
	return w
}

func TestQuery(t *testing.T) {
	w := queryWorld(t)
	base := []string{"query", "--resolver", w.Resolver(), "--ca-file", w.CAFile(), "--timeout", "5s"}
	for _, tc := range []struct {
		key, decision, postfix string
		mx                     []string
		code                   int
	}{
		{"enforce.test", "enforce", "OK secure match=mx1.enforce.test:a.mail.enforce.test servername=hostname", []string{"mx1.enforce.test", "*.mail.enforce.test"}, exitOK},
		{"strict.test", "testing", "NOTFOUND", []string{"mx.strict.test"}, exitOK},
		{"norecord.test", "no-policy", "NOTFOUND", []string{}, exitErrors},
		{"iponly.test", "enforce", "TEMP MTA-STS: no usable mx pattern", []string{}, exitErrors},
	} {
		t.Run(tc.key, func(t *testing.T) {
			r := runQueryCmd(t, w, append(base, "--json", tc.key)...)
			q := runQueryJSON(t, r)
			if r.code != tc.code || q.Decision != tc.decision || !strings.HasPrefix(q.Postfix, tc.postfix) ||
				strings.Join(q.MX, " ") != strings.Join(tc.mx, " ") || q.Reason == "" || q.Source == "" {
				t.Errorf("code %d, %+v; want code %d, decision %s, mx %q, postfix %q", r.code, q, tc.code, tc.decision, tc.mx, tc.postfix)
			}
		})
	}

	r := runQueryCmd(t, w, append(base, "enforce.test")...)
	for _, want := range []string{"enforce.test: enforce", "mx        mx1.enforce.test, *.mail.enforce.test", "source    fetch", "postfix   OK secure match="} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// --cache fills a cache that a later query (or the daemon) answers from,
// even when DNS then fails (RFC 8461 §5.1); --config applies the daemon's
// zones.
func TestQueryCacheAndConfig(t *testing.T) {
	w := queryWorld(t)
	cacheURL := "sqlite://" + filepath.Join(t.TempDir(), "cache.db")
	base := []string{"query", "--json", "--resolver", w.Resolver(), "--ca-file", w.CAFile(), "--timeout", "5s", "--cache", cacheURL}
	if q := runQueryJSON(t, runQueryCmd(t, w, append(base, "strict.test")...)); q.Source != "fetch" || q.Postfix != "NOTFOUND" {
		t.Fatalf("first query: %+v", q)
	}
	w.DNS.SetRcode("_mta-sts.strict.test", dns.TypeTXT, dns.RcodeServerFailure)
	conf := testenv.WriteConfig(t, "[daemon.zones.\"strict.test\"]\nstrict_testing = true\n")
	q := runQueryJSON(t, runQueryCmd(t, w, append(base, "--config", conf, "strict.test")...))
	if q.Source != "cache" || q.Decision != "testing" || q.ID == "" || q.MaxAge != 86400 ||
		q.Postfix != "OK secure match=mx.strict.test servername=hostname" {
		t.Errorf("from the cache with strict_testing: %+v", q)
	}
}

// RFC 8461 §2: MTA-STS never overrides DANE. Without --dane or a dane
// setting, DANE is checked exactly when the resolver validates DNSSEC.
func TestQueryDANEAuto(t *testing.T) {
	w := queryWorld(t)
	w.DNS.Add("enforce.test. MX 10 mx1.enforce.test.",
		"_25._tcp.mx1.enforce.test. TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	w.DNS.SetAuthenticated("enforce.test", true)
	w.DNS.SetAuthenticated("_25._tcp.mx1.enforce.test", true)
	base := []string{"query", "--json", "--resolver", w.Resolver(), "--ca-file", w.CAFile(), "--timeout", "5s"}

	// The resolver does not validate: MTA-STS decides.
	if q := runQueryJSON(t, runQueryCmd(t, w, append(base, "enforce.test")...)); q.Decision != "enforce" {
		t.Errorf("non-validating resolver: %+v, want enforce", q)
	}
	// Explicitly off, even with a validating resolver.
	w.DNS.SetAuthenticated(".", true)
	if q := runQueryJSON(t, runQueryCmd(t, w, append(base, "--dane=false", "enforce.test")...)); q.Decision != "enforce" {
		t.Errorf("--dane=false: %+v, want enforce", q)
	}
	// The resolver validates (AD bit for the root): DANE governs.
	if q := runQueryJSON(t, runQueryCmd(t, w, append(base, "enforce.test")...)); q.Decision != "dane" || q.Postfix != "OK dane" {
		t.Errorf("validating resolver: %+v, want dane", q)
	}
}
