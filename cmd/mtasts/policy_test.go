package main

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
)

func TestPolicyInit(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "mta-sts.txt")
	r := runCmd(t, nil, "", "policy", "init", "Example.COM.", "--mx", "mx1.example.com", "--mx", "*.mail.example.com",
		"--mode", "enforce", "--max-age", "1209600", "--rua", "mailto:tls@example.com", "--output", out)
	if r.code != 0 {
		t.Fatalf("code %d, stderr %s", r.code, r.stderr)
	}
	text, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 8461 §3.2: the written file is a valid policy with CRLF endings.
	want := "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.mail.example.com\r\nmax_age: 1209600\r\n"
	if string(text) != want {
		t.Errorf("policy file:\n%q\nwant\n%q", text, want)
	}
	// The printed zone lines carry records that parse (RFC 8461 §3.1,
	// RFC 8460 §3), at the right names.
	for _, tc := range []struct {
		name  string
		check func(string) error
	}{
		{"_mta-sts.example.com.", func(s string) error { _, err := sts.ParseRecord(s); return err }},
		{"_smtp._tls.example.com.", func(s string) error { _, err := tlsrpt.ParseRecord(s); return err }},
	} {
		rr := zoneLine(t, r.stdout, tc.name)
		txt, ok := rr.(*dns.TXT)
		if !ok {
			t.Fatalf("%s: not a TXT record: %v", tc.name, rr)
		}
		if err := tc.check(strings.Join(txt.Txt, "")); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if rec := zoneLine(t, r.stdout, "_mta-sts.example.com.").(*dns.TXT); !strings.Contains(rec.Txt[0], "id=20261126120000;") {
		t.Errorf("record id not from the clock: %q", rec.Txt)
	}

	// An existing file is not overwritten without --force.
	r = runCmd(t, nil, "", "policy", "init", "example.com", "--mx", "mx.example.com", "--output", out)
	if r.code != exitCannotRun || !strings.Contains(r.stderr, "--force") {
		t.Errorf("overwrite: code %d, stderr %q", r.code, r.stderr)
	}
	r = runCmd(t, nil, "", "policy", "init", "example.com", "--mx", "mx.example.com", "--output", out, "--force")
	if r.code != 0 {
		t.Errorf("--force: code %d, stderr %q", r.code, r.stderr)
	}
}

// zoneLine finds the zone-file line for name in out and parses it.
func zoneLine(t *testing.T, out, name string) dns.RR {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, name+"\t") {
			rr, err := dns.NewRR(line)
			if err != nil {
				t.Fatalf("zone line %q: %v", line, err)
			}
			return rr
		}
	}
	t.Fatalf("no zone line for %s in:\n%s", name, out)
	return nil
}

func TestPolicyInitStdout(t *testing.T) {
	r := runCmd(t, nil, "", "policy", "init", "example.com", "--mx", "mx.example.com", "--output", "-")
	if r.code != 0 {
		t.Fatalf("code %d, stderr %s", r.code, r.stderr)
	}
	if _, err := sts.ParsePolicy([]byte(r.stdout)); err != nil {
		t.Errorf("stdout is not a policy: %v\n%s", err, r.stdout)
	}
	if !strings.Contains(r.stderr, "_mta-sts.example.com.") {
		t.Errorf("records not on stderr: %s", r.stderr)
	}
}

func TestPolicyInitRefusesInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no mx in enforce", []string{"--mode", "enforce"}, "mx"},
		{"bad mode", []string{"--mx", "mx.example.com", "--mode", "Enforce"}, "mode"},
		{"max_age too large", []string{"--mx", "mx.example.com", "--max-age", "31557601"}, "31557600"},
		{"bad pattern", []string{"--mx", "mx.*.example.com"}, "mx"},
		{"bad rua", []string{"--mx", "mx.example.com", "--rua", "ftp://example.com"}, "rua"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "p.txt")
			args := append([]string{"policy", "init", "example.com", "--output", out}, tc.args...)
			r := runCmd(t, nil, "", args...)
			if r.code != exitCannotRun || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("code %d, stderr %q, want exit 3 mentioning %q", r.code, r.stderr, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("invalid policy was written")
			}
		})
	}
}

func TestPolicyLint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy string
		code   int
		want   string // in the output
	}{
		{"valid", "version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 1209600\r\n", exitOK, "valid"},
		{"warning short max_age", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 3600\n", exitWarnings, "max-age-short"},
		{"invalid max_age", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 31557601\n", exitErrors, `policy line 4: max_age "31557601" exceeds 31557600 (RFC 8461 §3.2)`},
		{"missing mx", "version: STSv1\nmode: enforce\nmax_age: 86400\n", exitErrors, "mx"},
		// Every error in one run, each with its line (issue 15).
		{"every error", "version: STSv2\nmode: Enforce\nmx: *.*.example.com\nmax_age: 99999999999\n", exitErrors,
			"invalid, 4 errors\n  error: policy line 1: version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, nil, tc.policy, "policy", "lint", "-")
			if r.code != tc.code || !strings.Contains(r.stdout, tc.want) {
				t.Errorf("code %d (want %d), stdout:\n%s\nwant %q", r.code, tc.code, r.stdout, tc.want)
			}
			r = runCmd(t, nil, tc.policy, "policy", "lint", "--json", "-")
			var res check.PolicyLint
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
				t.Fatalf("--json: %v\n%s", err, r.stdout)
			}
			if r.code != tc.code || res.Valid != (tc.code != exitErrors) {
				t.Errorf("--json: code %d valid %v", r.code, res.Valid)
			}
		})
	}
	r := runCmd(t, nil, "version: STSv2\nmode: Enforce\nmx: *.*.example.com\nmax_age: 99999999999\n", "policy", "lint", "-")
	for _, line := range []string{"policy line 1: version", "policy line 2: mode", "policy line 3: mx", "policy line 4: max_age"} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("policy lint: no %q in\n%s", line, r.stdout)
		}
	}
	r = runCmd(t, nil, "", "policy", "lint", filepath.Join(t.TempDir(), "missing.txt"))
	if r.code != exitCannotRun {
		t.Errorf("missing file: code %d", r.code)
	}
}

const worldPolicy = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmax_age: 1209600\r\n"

func TestPolicyFetch(t *testing.T) {
	w := fixedWorld(t)
	w.PolicyDomain("example.com", worldPolicy)

	r := runCmd(t, w, "", "policy", "fetch", "--resolver", w.Resolver(), "--ca-file", w.CAFile(), "--json", "example.com")
	if r.code != exitOK {
		t.Fatalf("code %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	var res check.PolicyFetch
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Verdict != check.VerdictEnforce || !res.Record.Valid || res.Record.ID != w.PolicyID("example.com") ||
		res.Policy == nil || len(res.Policy.MX) != 1 || res.Fetch.Status != 200 {
		t.Errorf("unexpected result: %+v", res)
	}

	r = runCmd(t, w, "", "policy", "fetch", "--resolver", w.Resolver(), "--ca-file", w.CAFile(), "example.com")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "example.com: enforce") {
		t.Errorf("text: code %d\n%s", r.code, r.stdout)
	}
}

func TestPolicyFetchProblems(t *testing.T) {
	w := fixedWorld(t)
	// RFC 8461 §3.3: a redirect is refused even when its target is valid.
	w.PolicyDomain("redirect.example", worldPolicy)
	w.HTTPSHost("mta-sts.redirect.example").Set(testworld.PolicyPath, testworld.Response{Redirect: "https://mta-sts.example.com/.well-known/mta-sts.txt"})
	// RFC 8461 §3.3: the certificate must be valid for mta-sts.<domain>.
	w.PolicyDomain("wrongname.example", worldPolicy)
	w.HTTPSHost("mta-sts.wrongname.example").SetCert(w.CA.Valid(t, "www.wrongname.example"))
	// RFC 8461 §3.2: an invalid policy.
	w.PolicyDomain("badpolicy.example", "version: STSv1\nmode: enforce\nmax_age: 86400\n")
	// Temporary DNS failure is not "no record".
	w.DNS.SetRcode("_mta-sts.servfail.example", dns.TypeTXT, dns.RcodeServerFailure)

	for _, tc := range []struct {
		domain  string
		verdict string
		code    string
		rfc     string
	}{
		{"redirect.example", check.VerdictNoPolicy, "fetch-redirect", "RFC 8461 §3.3"},
		{"wrongname.example", check.VerdictNoPolicy, "fetch-tls", "RFC 8461 §3.3"},
		{"badpolicy.example", check.VerdictNoPolicy, "", "RFC 8461 §3.2"},
		{"servfail.example", check.VerdictTempfail, "", ""},
		{"nothing.example", check.VerdictNoPolicy, "", "RFC 8461 §3.1"},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			r := runCmd(t, w, "", "policy", "fetch", "--resolver", w.Resolver(), "--ca-file", w.CAFile(), "--timeout", "5s", "--json", tc.domain)
			var res check.PolicyFetch
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
				t.Fatalf("%v\n%s\n%s", err, r.stdout, r.stderr)
			}
			if r.code != exitErrors || res.Verdict != tc.verdict {
				t.Errorf("code %d verdict %q, want 2 and %q", r.code, res.Verdict, tc.verdict)
			}
			found := false
			for _, p := range res.Problems {
				if p.Severity == "error" && (tc.code == "" || p.Code == tc.code) && (tc.rfc == "" || p.RFC == tc.rfc) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error with code %q and rfc %q in %+v", tc.code, tc.rfc, res.Problems)
			}
		})
	}
}

// Every problem of policy fetch --json has a code for scripts, a missing
// record too (issue 15); and JSON keeps "<" as it is.
func TestPolicyFetchProblemCodes(t *testing.T) {
	w := fixedWorld(t)
	w.DNS.Add(`_mta-sts.bad.example. TXT "v=STSv1; id=not_valid!"`)
	for _, tc := range []struct{ domain, code string }{
		{"none.example", "no-record"},
		{"bad.example", "record-syntax"},
	} {
		r := runCmd(t, w, "", "policy", "fetch", "--resolver", w.Resolver(), "--ca-file", w.CAFile(), "--json", tc.domain)
		var res check.PolicyFetch
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("%s: %v\n%s", tc.domain, err, r.stdout)
		}
		if len(res.Problems) == 0 || res.Problems[0].Code != tc.code {
			t.Errorf("%s: problems %+v, want the first with code %q", tc.domain, res.Problems, tc.code)
		}
		if strings.Contains(r.stdout, `\u003c`) {
			t.Errorf("%s: JSON escapes <: %s", tc.domain, r.stdout)
		}
	}
}

// --resolver answers the policy host's address too, not only the TXT
// record (issue 15): the policy host here has a name only the test world's
// DNS server knows, on the real port 443 of a loopback address.
func TestPolicyFetchResolverForPolicyHost(t *testing.T) {
	if os.Geteuid() != 0 {
		testservers.Unavailable(t, "listening on port 443 needs root")
	}
	w := fixedWorld(t)
	l, err := net.Listen("tcp", "127.84.61.1:443")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", "text/plain")
			io.WriteString(rw, worldPolicy)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{*w.CA.Valid(t, "mta-sts.lab.test")}},
	}
	go srv.ServeTLS(l, "", "")
	t.Cleanup(func() { srv.Close() })
	w.DNS.Add(`_mta-sts.lab.test. TXT "v=STSv1; id=20261207;"`, "mta-sts.lab.test. A 127.84.61.1")

	// No world dialer: the command dials as it would for a user.
	r := runCmd(t, nil, "", "policy", "fetch", "--resolver", w.Resolver(), "--ca-file", w.CAFile(), "lab.test")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "lab.test: enforce") {
		t.Errorf("code %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
}
