package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// hugeReport is a report whose failure count is 2^63-1, as a probe posted
// to /tlsrpt.
const hugeReport = `{"organization-name": "Probe", "report-id": "huge-1", "contact-info": "probe@example.net",
	"date-range": {"start-datetime": "2026-11-20T00:00:00Z", "end-datetime": "2026-11-20T23:59:59Z"},
	"policies": [{"policy": {"policy-type": "sts", "policy-domain": "example.com",
			"policy-string": ["version: STSv1", "mode: testing", "mx: mx1.example.com", "max_age: 86400"]},
		"summary": {"total-successful-session-count": 1, "total-failure-session-count": 9223372036854775807},
		"failure-details": [{"result-type": "certificate-expired", "sending-mta-ip": "192.0.2.7", "receiving-ip": "192.0.2.25",
			"receiving-mx-hostname": "mx1.example.com", "failed-session-count": 9223372036854775807}]}]}`

// TestReportsHugeCountQuarantined imports a report with an absurd count:
// it is quarantined with a reason that says where and why, and the summary
// still works.
func TestReportsHugeCountQuarantined(t *testing.T) {
	db := reportsDB(t)
	path := filepath.Join(t.TempDir(), "huge.json")
	if err := os.WriteFile(path, []byte(hugeReport), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, nil, "", "reports", "import", db, "--dkim", "off", path)
	if r.code != exitErrors || !strings.Contains(r.stdout, "quarantined  "+path+": tlsrpt report: policies[0].summary.total-failure-session-count: is 9223372036854775807, more than") {
		t.Errorf("import: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, nil, "", "reports", "summary", db); r.code != exitOK || r.stdout != "no reports\n" {
		t.Errorf("summary: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// storeHugeReports stores reports with counts of 2^63-1 directly, as
// stores filled before the import refused them hold, and a normal one.
func storeHugeReports(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "reports.db")
	s, err := reportstore.Open(context.Background(), "sqlite://"+path, reportstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for i, org := range []string{"Probe", "Probe Again", "Fine Corp."} {
		count := int64(math.MaxInt64)
		if i == 2 {
			count = 3
		}
		rep := &tlsrpt.Report{OrganizationName: org, ReportID: "huge-1", DateRange: tlsrpt.DateRange{Start: start, End: start.Add(24*time.Hour - time.Second)},
			Policies: []tlsrpt.PolicyResult{{Policy: tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: "example.com"},
				Summary:        tlsrpt.Summary{Successful: 1, Failed: count},
				FailureDetails: []tlsrpt.FailureDetail{{ResultType: tlsrpt.ResultCertificateExpired, FailedSessionCount: count}}}}}
		raw, _ := tlsrpt.Render(rep)
		if _, err := s.Add(context.Background(), &reportstore.Submission{Report: rep, Raw: raw, RawType: tlsrpt.MediaTypeJSON, Source: reportstore.SourceFile}); err != nil {
			t.Fatal(err)
		}
	}
	return "--db=sqlite://" + path
}

// TestReportsDelete removes the reports that break sums with the command,
// after asking, and checks its answers and exit statuses.
func TestReportsDelete(t *testing.T) {
	db := storeHugeReports(t)
	r := runCmd(t, nil, "", "reports", "summary", db)
	if r.code != exitOK || !strings.Contains(r.stdout, "example.com: 9223372036854775807 sessions") {
		t.Errorf("summary with huge counts: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, nil, "", "reports", "list", db); r.code != exitOK || !strings.Contains(r.stdout, "3 of 3 reports") {
		t.Errorf("list with huge counts: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	tests := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout string // a line the output holds
		stderr string
	}{
		{"no report named", "", nil, exitCannotRun, "", "name the report by ID or by --report-id"},
		{"both", "", []string{"1", "--report-id", "x"}, exitCannotRun, "", "one of the two"},
		{"bad ID", "", []string{"x1"}, exitCannotRun, "", `"x1" is not a report ID`},
		{"missing ID", "", []string{"99"}, exitErrors, "", "not found: report 99"},
		{"missing report-id", "", []string{"--report-id", "nope"}, exitErrors, "", `no report has report-id "nope"`},
		{"ambiguous report-id", "", []string{"--report-id", "huge-1"}, exitErrors, "", `3 reports have report-id "huge-1" (IDs 1, 2, 3); name one by its ID`},
		{"declined", "n\n", []string{"1"}, exitDeclined, "report 1 not deleted", "Delete report 1 (Probe, report-id huge-1, day 2026-11-20, example.com, 9223372036854775807 sessions)? [y/N] "},
		{"no answer", "", []string{"1"}, exitDeclined, "report 1 not deleted", "[y/N]"},
		{"confirmed", "yes\n", []string{"1"}, exitOK, "deleted report 1 (Probe, report-id huge-1", ""},
		{"deleted already", "", []string{"--yes", "1"}, exitErrors, "", "not found: report 1"},
		{"without asking", "", []string{"--yes", "2"}, exitOK, "deleted report 2 (Probe Again,", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, nil, tc.stdin, append([]string{"reports", "delete", db}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d, want %d; stdout %q (want %q), stderr %q (want %q)", r.code, tc.code, r.stdout, tc.stdout, r.stderr, tc.stderr)
			}
		})
	}

	r = runCmd(t, nil, "", "reports", "delete", db, "--yes", "--json", "--report-id", "huge-1")
	var out struct {
		Deleted reportstore.ReportInfo `json:"deleted"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != exitOK || out.Deleted.ID != 3 {
		t.Errorf("delete --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if r := runCmd(t, nil, "", "reports", "summary", db); r.code != exitOK || r.stdout != "no reports\n" {
		t.Errorf("summary after deleting: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
