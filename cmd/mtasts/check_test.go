package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of testdata/check")

// fixedWorld returns a world whose certificates all follow testNow, the
// clock of command tests, so that reports do not depend on the day the
// tests run.
func fixedWorld(t *testing.T) *testworld.World {
	t.Helper()
	w := testworld.New(t)
	ca := testworld.NewCAValid(t, "testworld", testNow.AddDate(-1, 0, 0), testNow.AddDate(10, 0, 0))
	ca.Now = func() time.Time { return testNow }
	w.CA = ca
	return w
}

// checkArgs are the arguments that point mtasts check at w.
func checkArgs(w *testworld.World, args ...string) []string {
	return append([]string{"check", "--resolver", w.Resolver(), "--ca-file", w.CAFile(), "--timeout", "5s"}, args...)
}

// goldenWorld publishes the domains of the golden reports:
// good.example, a correct deployment with DANE; broken.example, in testing
// mode with an uncovered MX host whose certificate expires soon, a blank
// line in its policy and no TLS-RPT record; and none.example, with
// nothing but an MX record.
func goldenWorld(t *testing.T) *testworld.World {
	w := fixedWorld(t)
	w.DNS.Add("good.example. MX 10 mx.good.example.")
	w.PolicyDomain("good.example", "version: STSv1\nmode: enforce\nmx: mx.good.example\nmax_age: 1209600\n")
	w.DNS.Remove("_mta-sts.good.example", dns.TypeTXT)
	w.DNS.TXT("_mta-sts.good.example", "v=STSv1; id=20261101;")
	w.DNS.TXT("_smtp._tls.good.example", "v=TLSRPTv1; rua=mailto:tlsrpt@good.example")
	cert := w.CA.Valid(t, "mx.good.example")
	w.SMTP("mx.good.example", fixedTLS(testworld.SMTPOptions{Cert: cert}))
	data, err := dns.CertificateToDANE(1, 1, cert.Leaf)
	if err != nil {
		t.Fatal(err)
	}
	w.DNS.Add("_25._tcp.mx.good.example. TLSA 3 1 1 " + data)
	w.DNS.SetAuthenticated("_25._tcp.mx.good.example", true)

	w.DNS.Add("broken.example. MX 10 mx1.broken.example.", "broken.example. MX 20 mx2.broken.example.")
	w.PolicyDomain("broken.example", "version: STSv1\nmode: testing\nmx: mx1.broken.example\n\nmax_age: 604800\n")
	w.DNS.Remove("_mta-sts.broken.example", dns.TypeTXT)
	w.DNS.TXT("_mta-sts.broken.example", "v=STSv1; id=7;")
	w.SMTP("mx1.broken.example", fixedTLS(testworld.SMTPOptions{}))
	w.SMTP("mx2.broken.example", fixedTLS(testworld.SMTPOptions{Cert: w.CA.Issue(t, testworld.CertOptions{
		DNSNames: []string{"mx2.broken.example"}, NotAfter: testNow.Add(10 * 24 * time.Hour),
	})}))

	w.DNS.Add("none.example. MX 10 mx.none.example.")
	w.SMTP("mx.none.example", testworld.SMTPOptions{NoSTARTTLS: true})
	return w
}

// fixedTLS pins the TLS version and cipher suite of an MX so that reports
// do not depend on the machine's AES support.
func fixedTLS(o testworld.SMTPOptions) testworld.SMTPOptions {
	o.MaxVersion = 0x0303 // TLS 1.2
	o.CipherSuites = []uint16{0xc02b}
	return o
}

// scrubber replaces what changes from run to run in a report: the
// loopback addresses handed out by the world (by order of appearance), the
// DNS server's port, the scrubDigest of a freshly generated key in a TLSA
// record, and the TLS 1.3 cipher suite, which depends on the machine.
type scrubber struct {
	seen map[string]string
}

var (
	scrubHostAddr = regexp.MustCompile(`127\.1\.\d+\.\d+`)
	scrubResolver = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	scrubTLS13    = regexp.MustCompile(`TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)`)
	scrubDigest   = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
)

func (s *scrubber) scrub(text string) string {
	if s.seen == nil {
		s.seen = map[string]string{}
	}
	text = scrubHostAddr.ReplaceAllStringFunc(text, func(ip string) string {
		if _, ok := s.seen[ip]; !ok {
			s.seen[ip] = fmt.Sprintf("192.0.2.%d", len(s.seen)+1)
		}
		return s.seen[ip]
	})
	text = scrubResolver.ReplaceAllString(text, "RESOLVER")
	text = scrubDigest.ReplaceAllString(text, "SHA256-OF-THE-KEY")
	return scrubTLS13.ReplaceAllString(text, "TLS13_SUITE")
}

// compareGolden compares got with testdata/check/name, or rewrites the file with
// -update.
func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "check", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the output (go test -run %s -update rewrites it)\n--- got:\n%s", path, t.Name(), got)
	}
}

// TestCheckGolden renders the golden domains as text, coloured text and
// JSON, on the fixed clock.
func TestCheckGolden(t *testing.T) {
	w := goldenWorld(t)
	domains := []string{"good.example", "broken.example", "none.example"}
	for _, tc := range []struct {
		file string
		args []string
	}{
		{"report.txt", domains},
		{"report.json", append([]string{"--json"}, domains...)},
		{"brief-color.txt", []string{"--brief", "--color", "always", "broken.example"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := runCmd(t, w, "", checkArgs(w, tc.args...)...)
			if r.code != exitErrors || r.stderr != "" {
				t.Errorf("code %d, want %d; stderr %q", r.code, exitErrors, r.stderr)
			}
			compareGolden(t, tc.file, (&scrubber{}).scrub(r.stdout))
		})
	}
}

// TestCheckJSONSchema decodes --json and --jsonl output with the field
// names of issue 3: domain, verdict, findings (code, severity, subject,
// message, rfc, fix) and facts.
func TestCheckJSONSchema(t *testing.T) {
	w := goldenWorld(t)
	for _, format := range []string{"--json", "--jsonl"} {
		r := runCmd(t, w, "", checkArgs(w, format, "broken.example", "good.example")...)
		dec := json.NewDecoder(strings.NewReader(r.stdout))
		var got []string
		for dec.More() {
			var obj struct {
				Domain  string          `json:"domain"`
				Verdict check.Verdict   `json:"verdict"`
				Facts   json.RawMessage `json:"facts"`
				Finds   []map[string]string
			}
			var raw map[string]json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				t.Fatalf("%s: %v\n%s", format, err, r.stdout)
			}
			json.Unmarshal(raw["domain"], &obj.Domain)
			json.Unmarshal(raw["verdict"], &obj.Verdict)
			json.Unmarshal(raw["findings"], &obj.Finds)
			if len(raw["facts"]) == 0 || obj.Verdict.Summary == "" {
				t.Errorf("%s %s: facts or verdict missing", format, obj.Domain)
			}
			for _, f := range obj.Finds {
				for _, k := range []string{"code", "severity", "subject", "message", "rfc", "fix"} {
					if f[k] == "" {
						t.Errorf("%s %s: finding %v lacks %q", format, obj.Domain, f, k)
					}
				}
			}
			got = append(got, obj.Domain)
		}
		if strings.Join(got, " ") != "broken.example good.example" {
			t.Errorf("%s: domains %v, want the order of the arguments", format, got)
		}
		if format == "--jsonl" && strings.Count(r.stdout, "\n") != 2 {
			t.Errorf("--jsonl: want one line per domain:\n%s", r.stdout)
		}
	}
}

// TestCheckExitStatus checks the documented exit statuses.
func TestCheckExitStatus(t *testing.T) {
	w := fixedWorld(t)
	w.DNS.Add("ok.example. MX 10 mx.ok.example.", "warn.example. MX 10 mx.warn.example.")
	for _, d := range []string{"ok.example", "warn.example"} {
		w.PolicyDomain(d, "version: STSv1\nmode: enforce\nmx: mx."+d+"\nmax_age: 1209600\n")
		w.SMTP("mx."+d, testworld.SMTPOptions{})
	}
	w.DNS.TXT("_smtp._tls.ok.example", "v=TLSRPTv1; rua=mailto:tlsrpt@ok.example")
	list := filepath.Join(t.TempDir(), "list.txt")
	os.WriteFile(list, []byte("ok.example\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // on stderr
	}{
		{"ok", checkArgs(w, "ok.example"), exitOK, ""},
		{"warnings", checkArgs(w, "warn.example"), exitWarnings, ""},
		{"errors", checkArgs(w, "missing.example"), exitErrors, ""},
		{"worst of several", checkArgs(w, "ok.example", "warn.example"), exitWarnings, ""},
		{"no domain", checkArgs(w), exitCannotRun, "give one or more domains"},
		{"invalid domain", checkArgs(w, "exa mple.com"), exitCannotRun, "invalid domain name"},
		{"json and jsonl", checkArgs(w, "--json", "--jsonl", "ok.example"), exitCannotRun, "exclude each other"},
		{"ipv4 and ipv6", checkArgs(w, "--ipv4", "--ipv6", "ok.example"), exitCannotRun, "exclude each other"},
		{"file and args", checkArgs(w, "-f", list, "ok.example"), exitCannotRun, "not both"},
		{"missing file", checkArgs(w, "-f", filepath.Join(t.TempDir(), "nope")), exitCannotRun, "no such file"},
		{"bad CA file", []string{"check", "--resolver", w.Resolver(), "--ca-file", list, "ok.example"}, exitCannotRun, "no PEM certificate"},
		{"bad resolver", []string{"check", "--resolver", "not-an-address", "ok.example"}, exitCannotRun, "DNS server address"},
		{"silent resolver", []string{"check", "--resolver", "127.0.0.1:9", "--timeout", "200ms", "ok.example"}, exitCannotRun, "does not answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, w, "", tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("code %d (want %d), stderr %q (want %q)\n%s", r.code, tc.code, r.stderr, tc.want, r.stdout)
			}
		})
	}
}

// TestCheckFlags checks the flags that change what is probed and how it
// is shown.
func TestCheckFlags(t *testing.T) {
	w := fixedWorld(t)
	w.DNS.Add("flags.example. MX 10 mx.flags.example.")
	w.PolicyDomain("flags.example", "version: STSv1\nmode: enforce\nmx: mx.flags.example\nmax_age: 1209600\n")
	w.DNS.TXT("_smtp._tls.flags.example", "v=TLSRPTv1; rua=mailto:tlsrpt@flags.example")
	w.SMTP("mx.flags.example", testworld.SMTPOptions{})
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		want    []string
		notWant []string
	}{
		// --public-only refuses the loopback addresses of the world.
		{"public-only", []string{"--public-only"}, exitErrors, []string{"policy-host-not-public", "mx-not-public"}, []string{"STARTTLS,"}},
		{"no-mx", []string{"--no-mx"}, exitOK, []string{"not probed (--no-mx)"}, []string{"STARTTLS,"}},
		{"ipv6 only", []string{"--ipv6"}, exitErrors, []string{"IPv4 address skipped (--ipv6)", "policy-host-connect"}, nil},
		{"ipv4 only", []string{"--ipv4"}, exitOK, []string{"STARTTLS, TLS 1.3"}, nil},
		{"no colour by default", nil, exitOK, []string{"MTA-STS enforce"}, []string{"\x1b["}},
		{"colour always", []string{"--color", "always"}, exitOK, []string{"\x1b[1m"}, nil},
		{"no-color wins", []string{"--color", "always", "--no-color"}, exitOK, nil, []string{"\x1b["}},
		{"brief", []string{"--brief"}, exitOK, []string{"flags.example: MTA-STS enforce — no problems\n"}, []string{"TXT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, w, "", checkArgs(w, append(tc.args, "flags.example")...)...)
			if r.code != tc.code {
				t.Errorf("code %d, want %d; stderr %q", r.code, tc.code, r.stderr)
			}
			for _, s := range tc.want {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("output lacks %q:\n%s", s, r.stdout)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(r.stdout, s) {
					t.Errorf("output has %q:\n%s", s, r.stdout)
				}
			}
		})
	}
}
