package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// bulkKind is one kind of domain of the bulk world, with the codes its
// check must give and how it counts in the summary.
type bulkKind struct {
	name    string
	codes   []string
	record  bool   // has a valid _mta-sts record
	policy  string // Verdict.Policy
	status  string // Verdict.Status
	publish func(t *testing.T, w *testworld.World, f *testworld.Farm, d string)
}

// farmDomain publishes d on the farm: MX mx.<d> (or mxHost), a policy in
// mode covering only mx.<d> unless mode is "", and a TLS-RPT record
// unless noReport.
func farmDomain(w *testworld.World, f *testworld.Farm, d, mode, mxHost string, noReport bool) {
	mx := "mx." + d
	if mxHost == "" {
		mxHost = mx
		f.MXHost(mx)
	}
	w.DNS.Add(d + ". MX 10 " + mxHost + ".")
	if mode != "" {
		f.PolicyDomain(d, "version: STSv1\nmode: "+mode+"\nmx: "+mxHost+"\nmax_age: 1209600\n")
	}
	if !noReport {
		w.DNS.TXT("_smtp._tls."+d, "v=TLSRPTv1; rua=mailto:tlsrpt@"+d)
	}
}

var bulkKinds = []bulkKind{
	{"good", nil, true, check.PolicyEnforce, check.StatusOK, func(t *testing.T, w *testworld.World, f *testworld.Farm, d string) {
		farmDomain(w, f, d, "enforce", "", false)
	}},
	{"no-record", []string{"sts-record-missing"}, false, check.PolicyNoPolicy, check.StatusError, func(t *testing.T, w *testworld.World, f *testworld.Farm, d string) {
		farmDomain(w, f, d, "", "", false)
	}},
	{"testing", []string{"policy-mode-testing"}, true, check.PolicyTesting, check.StatusOK, func(t *testing.T, w *testworld.World, f *testworld.Farm, d string) {
		farmDomain(w, f, d, "testing", "", false)
	}},
	{"uncovered", []string{"enforce-blocks-mx", "mx-not-covered"}, true, check.PolicyEnforce, check.StatusError, func(t *testing.T, w *testworld.World, f *testworld.Farm, d string) {
		farmDomain(w, f, d, "enforce", "", false)
		f.MXHost("backup." + d)
		w.DNS.Add(d + ". MX 20 backup." + d + ".")
	}},
	{"expired", []string{"enforce-blocks-mx", "mx-cert-expired"}, true, check.PolicyEnforce, check.StatusError, func(t *testing.T, w *testworld.World, f *testworld.Farm, d string) {
		farmDomain(w, f, d, "enforce", "", false)
		f.SetCert("mx."+d, w.CA.Expired(t, "mx."+d))
	}},
	{"no-report", []string{"tlsrpt-record-missing"}, true, check.PolicyEnforce, check.StatusWarning, func(t *testing.T, w *testworld.World, f *testworld.Farm, d string) {
		farmDomain(w, f, d, "enforce", "", true)
	}},
	// Domains of one provider share an MX host, probed once.
	{"shared", nil, true, check.PolicyEnforce, check.StatusOK, func(t *testing.T, w *testworld.World, f *testworld.Farm, d string) {
		farmDomain(w, f, d, "enforce", "mx.provider.example", false)
	}},
}

// bulkDomains is the size of the bulk world.
const bulkDomains = 350

// bulkWorld publishes bulkDomains domains of every kind in turn and
// writes their list, with comments, blank lines, a "rank,domain" line and
// one line that is no domain name.
func bulkWorld(t *testing.T) (w *testworld.World, list string, domains []string) {
	w = fixedWorld(t)
	f := w.NewFarm(testworld.FarmOptions{})
	f.MXHost("mx.provider.example")
	var b strings.Builder
	b.WriteString("# bulk test list\n\n")
	for i := range bulkDomains {
		k := bulkKinds[i%len(bulkKinds)]
		d := fmt.Sprintf("d%03d-%s.example", i, k.name)
		k.publish(t, w, f, d)
		domains = append(domains, d)
		if i == 7 {
			fmt.Fprintf(&b, "%d,%s\n", i+1, d)
			b.WriteString("not..a.domain\n")
			continue
		}
		fmt.Fprintf(&b, "  %s # kind %s\n", d, k.name)
	}
	list = filepath.Join(t.TempDir(), "domains.txt")
	if err := os.WriteFile(list, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return w, list, domains
}

// TestCheckBulk runs mtasts check -f over several hundred domains: every
// domain is reported, in input order with --ordered, with the exact codes
// of its kind, and the summary counts are right.
func TestCheckBulk(t *testing.T) {
	w, list, domains := bulkWorld(t)
	data, _ := os.ReadFile(list)
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
	}{
		{"ordered", []string{"-f", list, "--ordered", "--jsonl", "--concurrency", "24"}, ""},
		{"as they finish, from stdin", []string{"-f", "-", "--jsonl", "--concurrency", "24"}, string(data)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, w, tc.stdin, checkArgs(w, tc.args...)...)
			if r.code != exitErrors {
				t.Errorf("code %d, want %d", r.code, exitErrors)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
				var res struct {
					Domain   string
					Error    string
					Findings []check.Finding
				}
				if err := json.Unmarshal([]byte(line), &res); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				if res.Error != "" {
					if res.Domain != "not..a.domain" {
						t.Errorf("%s: %s", res.Domain, res.Error)
					}
					continue
				}
				got = append(got, res.Domain)
				i := slices.Index(domains, res.Domain)
				if i < 0 {
					t.Fatalf("unknown domain %q", res.Domain)
				}
				var codes []string
				for _, f := range res.Findings {
					codes = append(codes, string(f.Code))
				}
				slices.Sort(codes)
				if k := bulkKinds[i%len(bulkKinds)]; !slices.Equal(codes, k.codes) {
					t.Errorf("%s: codes %v, want %v", res.Domain, codes, k.codes)
				}
			}
			if tc.args[2] == "--ordered" {
				if !slices.Equal(got, domains) {
					t.Errorf("results not in input order: %v", got)
				}
			} else if slices.Sort(got); !slices.Equal(got, domains) {
				t.Errorf("got %d results for %d domains", len(got), len(domains))
			}
			checkSummary(t, r.stderr)
		})
	}
}

// summaryRow matches a row of the summary tables: a label (in the code
// table, a code and its severity), a count and a share.
var (
	summaryRow = regexp.MustCompile(`(?m)^(\S.*?)\s+(\d+)\s+(\d+\.\d%)$`)
	codeRow    = regexp.MustCompile(`(?m)^(\S+)\s+(?:error|warning|info)\s+(\d+)\s+(\d+\.\d%)$`)
)

// checkSummary compares the summary table with the counts expected of
// the bulk world.
func checkSummary(t *testing.T, table string) {
	t.Helper()
	want := map[string]int{}
	for i := range bulkDomains {
		k := bulkKinds[i%len(bulkKinds)]
		if k.record {
			want["with an MTA-STS record"]++
		}
		want["policy "+k.policy]++
		want["status "+k.status]++
		for _, c := range k.codes {
			want[c]++
		}
	}
	if !strings.Contains(table, fmt.Sprintf("Summary: %d domains checked, 1 not checked", bulkDomains)) {
		t.Errorf("summary head wrong:\n%s", table)
	}
	got := map[string]int{}
	domainTable, codeTable, _ := strings.Cut(table, "finding code")
	rows := append(summaryRow.FindAllStringSubmatch(domainTable, -1), codeRow.FindAllStringSubmatch(codeTable, -1)...)
	for _, m := range rows {
		n, _ := strconv.Atoi(m[2])
		if n > 0 {
			got[m[1]] = n
		}
		if share := fmt.Sprintf("%.1f%%", 100*float64(n)/bulkDomains); m[3] != share {
			t.Errorf("%s: share %s, want %s", m[1], m[3], share)
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("summary %q: %d, want %d", k, got[k], n)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("summary has unexpected row %q", k)
		}
	}
	if t.Failed() {
		t.Logf("summary:\n%s", table)
	}
}

// TestBulkProgress draws the progress bar of a list into a buffer (in use
// it is drawn only on a terminal).
func TestBulkProgress(t *testing.T) {
	list := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(list, []byte("a.example\n# comment\n\n1,b.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	now := testNow
	p := newBulkProgress(&buf, list, true, func() time.Time { return now })
	now = now.Add(time.Microsecond)
	p.add() // the first results, at once: no rate yet
	p.add()
	if st := p.bar.State(); st.Description != "checking" || st.Max != 2 {
		t.Errorf("progress %+v: want the description without a rate and a total of 2", st)
	}
	p.clear()
	now = now.Add(4 * time.Second)
	p.add()
	if st := p.bar.State(); st.Description != "checking, 0.7 domains/s" {
		t.Errorf("progress %+v: want the rate of 3 domains in 4 s", st)
	}
	p.close()
	if out := buf.String(); !strings.Contains(out, "checking") || !strings.Contains(out, "/2)") {
		t.Errorf("progress output %q: want the bar drawn with a total of 2", out)
	}
	var none *bulkProgress // no terminal: nothing drawn, nothing fails
	none.add()
	none.clear()
	none.close()
	if n := countDomains("-"); n != -1 {
		t.Errorf("countDomains(stdin) = %d, want -1 (unknown)", n)
	}
}

// TestCheckBulkNothingChecked runs mtasts check -f over lists that name
// no domain that can be checked: that is exit status 3 with a message,
// not a clean 0, and the bad entries are quoted escaped.
func TestCheckBulkNothingChecked(t *testing.T) {
	w := fixedWorld(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, list, stderr string
	}{
		{"junk", "not a domain!\nnot..a.domain\n\x1b]0;title\x07bad\n", "nothing checked: " + filepath.Join(dir, "junk") + " holds no domain that could be checked (3 entries refused)"},
		{"empty", "# nothing here\n\n   \n", "nothing checked: " + filepath.Join(dir, "empty") + " holds no domain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list := filepath.Join(dir, tc.name)
			if err := os.WriteFile(list, []byte(tc.list), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runCmd(t, w, "", checkArgs(w, "-f", list)...)
			if r.code != exitCannotRun || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, exitCannotRun, r.stderr)
			}
			if strings.ContainsAny(r.stderr, "\x1b\x07") {
				t.Errorf("stderr holds control characters: %q", r.stderr)
			}
		})
	}
}
