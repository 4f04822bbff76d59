package tlsrptsend

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mtasts/mtasts/tlsrpt"
)

// testPolicies gives every domain an MTA-STS policy but nopolicy.test.
type testPolicies struct{}

func (testPolicies) PolicyAt(domain string, _ time.Time) (tlsrpt.Policy, bool) {
	if domain == "nopolicy.test" {
		return tlsrpt.Policy{}, false
	}
	return tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: domain, Strings: []string{"version: STSv1", "mode: testing"}, MXHosts: []string{"*." + domain}}, true
}

// testNow is the clock of the parser tests: the day after the logs.
func testNow() time.Time { return time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC) }

// parseLog runs a parser over a log and returns the outcomes, one line
// each as in the .want files: "domain mx ip result".
func parseLog(t testing.TB, log []byte) ([]string, *PostfixParser) {
	p := NewPostfixParser(testPolicies{}, netip.MustParseAddr("192.0.2.1"), time.UTC, testNow)
	var got []string
	sc := bufio.NewScanner(bytes.NewReader(log))
	for sc.Scan() {
		p.Parse(sc.Bytes(), RecorderFunc(func(o Outcome) {
			result := string(o.Result)
			if o.Success() {
				result = "success"
			}
			got = append(got, fmt.Sprintf("%s %s %s %s", o.Policy.Domain, o.MXHost, o.ReceivingIP, result))
		}))
	}
	return got, p
}

// TestPostfixLogFiles reads each testdata/postfix/NAME.log, lines written
// by real Postfix (postfix-3.7-real.log is TestPostfixRealLog's log) and
// variants of them in the other log formats and situations, and compares
// the outcomes with NAME.want.
func TestPostfixLogFiles(t *testing.T) {
	logs, err := filepath.Glob("testdata/postfix/*.log")
	if err != nil || len(logs) == 0 {
		t.Fatalf("no logs in testdata/postfix: %v", err)
	}
	for _, path := range logs {
		name := strings.TrimSuffix(filepath.Base(path), ".log")
		t.Run(name, func(t *testing.T) {
			log, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			wantFile, err := os.ReadFile(strings.TrimSuffix(path, ".log") + ".want")
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, l := range strings.Split(string(wantFile), "\n") {
				if l != "" && !strings.HasPrefix(l, "#") {
					want = append(want, l)
				}
			}
			got, p := parseLog(t, log)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			if st := p.Stats(); st.NotSyslog != 0 || st.Malformed != 0 || st.Orphaned != 0 || st.Sessions != int64(len(want)) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// syslogLineCases are the log line formats read, and lines refused; they
// also seed FuzzPostfixParser.
var syslogLineCases = []struct {
	line       string
	time       time.Time
	prog, msg  string
	wantParsed bool
}{
	{"Dec 07 18:32:25 sender postfix/smtp[15967]: hello", time.Date(2026, 12, 7, 18, 32, 25, 0, time.UTC), "postfix/smtp", "hello", true},
	{"Dec  7 18:32:25 sender postfix/smtp[1]: x: y", time.Date(2026, 12, 7, 18, 32, 25, 0, time.UTC), "postfix/smtp", "x: y", true},
	// A date after tomorrow is last year's (RFC 3164 has no year).
	{"Dec 31 23:59:59 sender postfix/smtp[1]: x", time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC), "postfix/smtp", "x", true},
	{"2026-12-07T18:32:25+0100 sender postfix/smtp[2]: m", time.Date(2026, 12, 7, 17, 32, 25, 0, time.UTC), "postfix/smtp", "m", true},
	{"2026-12-07T18:32:25.5+01:00 sender postfix/smtp[2]: m", time.Date(2026, 12, 7, 17, 32, 25, 5e8, time.UTC), "postfix/smtp", "m", true},
	{"2026-12-07T18:32:25.123456+0000 h postfix-out/smtp-relay[2]: m", time.Date(2026, 12, 7, 18, 32, 25, 123456000, time.UTC), "postfix-out/smtp-relay", "m", true},
	{"Foo 07 18:32:25 sender postfix/smtp[1]: x", time.Time{}, "", "", false},
	{"Dec 07 25:32:25 sender postfix/smtp[1]: x", time.Time{}, "", "", false},
	{"Dec 07 18:32:25 sender postfix/smtp[x1]: x", time.Time{}, "", "", false},
	{"Dec 07 18:32:25 sender postfix/smtp: x", time.Time{}, "", "", false},
	{"Dec 07 18:32:25 sender", time.Time{}, "", "", false},
	{"2026-12-07 18:32:25 sender postfix/smtp[1]: x", time.Time{}, "", "", false},
	{"", time.Time{}, "", "", false},
}

func TestParseSyslogLine(t *testing.T) {
	c := syslogClock{loc: time.UTC, now: testNow}
	for _, tc := range syslogLineCases {
		l, ok := c.parseSyslogLine([]byte(tc.line))
		if ok != tc.wantParsed {
			t.Errorf("%q: parsed %v, want %v", tc.line, ok, tc.wantParsed)
			continue
		}
		if ok && (!l.time.Equal(tc.time) || string(l.prog) != tc.prog || string(l.msg) != tc.msg) {
			t.Errorf("%q: got %v %q %q, want %v %q %q", tc.line, l.time, l.prog, l.msg, tc.time, tc.prog, tc.msg)
		}
	}
}

func TestClassifyVerifyFailure(t *testing.T) {
	for reason, want := range map[string]tlsrpt.ResultType{
		"certificate has expired":                        tlsrpt.ResultCertificateExpired,
		"num=62:hostname mismatch":                       tlsrpt.ResultCertificateHostMismatch,
		"self-signed certificate":                        tlsrpt.ResultCertificateNotTrusted,
		"untrusted issuer /CN=Evil CA":                   tlsrpt.ResultCertificateNotTrusted,
		"not trusted by local or TLSA policy":            tlsrpt.ResultCertificateNotTrusted,
		"certificate chain longer than limit(9)":         tlsrpt.ResultCertificateNotTrusted,
		"certificate not yet valid":                      tlsrpt.ResultValidationFailure,
		"not designated for use as a server certificate": tlsrpt.ResultValidationFailure,
		"num=7:certificate signature failure":            tlsrpt.ResultValidationFailure,
		"external policy failure (sts_mx_host_mismatch)": tlsrpt.ResultValidationFailure,
	} {
		if got := classifyVerifyFailure(reason); got.result != want || got.reason != reason {
			t.Errorf("%q: %+v, want %s", reason, got, want)
		}
	}
}

func TestNamaddrAndQueueID(t *testing.T) {
	for _, tc := range []struct {
		in, host, ip, rest string
		ok                 bool
	}{
		{"mx.example.com[192.0.2.1]:25: TLSv1.3", "mx.example.com", "192.0.2.1", "TLSv1.3", true},
		{"mx.example.com[2001:db8::1]:25", "mx.example.com", "2001:db8::1", "", true},
		{"mx.example.com[192.0.2.1]", "mx.example.com", "192.0.2.1", "", true},
		{"mx.example.com[private/dovecot]:25", "", "", "", false},
		{"[192.0.2.1]:25", "", "", "", false},
		{"mx.example.com[192.0.2.1", "", "", "", false},
		{"none", "", "", "", false},
	} {
		host, ip, rest, ok := namaddr([]byte(tc.in))
		if ok != tc.ok || ok && (host != tc.host || ip.String() != tc.ip || rest != tc.rest) {
			t.Errorf("namaddr(%q) = %q %v %q %v", tc.in, host, ip, rest, ok)
		}
	}
	for in, want := range map[string]string{
		"4DE5F9858B3: to=<a@b>": "4DE5F9858B3", "3Pq5bP2Dw0zJrh: x": "3Pq5bP2Dw0zJrh",
		"warning: x": "", "fatal: x": "", "12345: x": "", "mx.example.com[1.2.3.4]:25: x": "",
	} {
		id, _, ok := queueID([]byte(in))
		if ok != (want != "") || id != want {
			t.Errorf("queueID(%q) = %q %v, want %q", in, id, ok, want)
		}
	}
}

// FuzzPostfixParser feeds arbitrary lines, seeded with the test logs, and
// checks that every outcome is one the parser may produce.
func FuzzPostfixParser(f *testing.F) {
	logs, _ := filepath.Glob("testdata/postfix/*.log")
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		for _, l := range bytes.Split(b, []byte("\n")) {
			f.Add(l)
		}
	}
	for _, tc := range syslogLineCases {
		f.Add([]byte(tc.line))
	}
	f.Fuzz(func(t *testing.T, log []byte) {
		p := NewPostfixParser(testPolicies{}, netip.MustParseAddr("192.0.2.1"), time.UTC, testNow)
		n := int64(0)
		for _, l := range bytes.Split(log, []byte("\n")) {
			p.Parse(l, RecorderFunc(func(o Outcome) {
				n++
				if o.MXHost == "" || !o.ReceivingIP.IsValid() || o.Policy.Domain == "" {
					t.Errorf("outcome without host, address or domain: %+v", o)
				}
				if !o.Success() && !o.Result.Known() {
					t.Errorf("unknown result type %q", o.Result)
				}
			}))
		}
		if st := p.Stats(); st.Sessions != n || st.Lines < 1 {
			t.Errorf("stats %+v, %d outcomes", st, n)
		}
	})
}
