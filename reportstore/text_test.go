package reportstore

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mtasts/mtasts/internal/untrusted"
	"github.com/mtasts/mtasts/tlsrpt"
)

// evil is text a sender controls, with a terminal escape sequence.
const evil = "Evil\x1b[2JOrg"

func TestReportPageWriteText(t *testing.T) {
	p := &ReportPage{Total: 2, Reports: []ReportInfo{{ID: 7, Day: "2026-11-20", Organization: evil, Domains: []string{"a.example", "b.example"}, Successful: 3, Failed: 1}}}
	var b strings.Builder
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "\x1b") {
		t.Errorf("escape sequence not escaped:\n%q", b.String())
	}
	for _, s := range []string{"     7  2026-11-20  Evil", "a.example,b.example", "75.00%  -\n", "1 of 2 reports\n"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("no %q in:\n%s", s, b.String())
		}
	}
	if d := (&ReportInfo{ID: 7, Organization: evil}).Describe(); strings.Contains(d, "\x1b") || !strings.HasPrefix(d, "report 7 (Evil") {
		t.Errorf("Describe = %q", d)
	}
}

func TestStoredReportWriteText(t *testing.T) {
	at := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	r := &StoredReport{ReportInfo: ReportInfo{ID: 1, Organization: "Org", ReportID: "r1", Start: at, End: at.Add(24 * time.Hour), Day: "2026-11-20",
		Received: at, Source: "file"}, RawType: "application/tlsrpt+json",
		Report: &tlsrpt.Report{Policies: []tlsrpt.PolicyResult{{Policy: tlsrpt.Policy{Type: "sts", Domain: "a.example"},
			Summary: tlsrpt.Summary{Successful: 1, Failed: 1},
			FailureDetails: []tlsrpt.FailureDetail{{ResultType: "certificate-expired", ReceivingIP: netip.MustParseAddr("192.0.2.1"), FailedSessionCount: 1,
				AdditionalInformation: evil}}}}}}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "report 1: Org, report-id r1\n" +
		"  period      2026-11-20 00:00:00Z to 2026-11-21 00:00:00Z (day 2026-11-20)\n" +
		"  contact     \n" +
		"  received    2026-11-20 00:00:00Z by file from  (application/tlsrpt+json)\n" +
		"\n  policy sts for a.example: 1 successful, 1 failed sessions (50.00%)\n" +
		"    failure  1 × certificate-expired: MX - (192.0.2.1) from -, " + untrusted.Escape(evil) + "\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
}

func TestQuarantinePageWriteText(t *testing.T) {
	at := time.Date(2026, 11, 20, 1, 2, 3, 0, time.UTC)
	p := &QuarantinePage{Total: 1, Entries: []QuarantineEntry{{ID: 3, Received: at, Source: "mail", Origin: "a@example", Reason: "not JSON", Size: 1, Attempts: 2}}}
	var b strings.Builder
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "3  2026-11-20 01:02:03Z  mail a@example (1 byte, 2 attempts): not JSON\n1 of 1 entries\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
}

func TestWriteSummaryText(t *testing.T) {
	var b strings.Builder
	if err := WriteSummaryText(&b, nil, " selected"); err != nil || b.String() != "no reports selected\n" {
		t.Errorf("none: %q, %v", b.String(), err)
	}
	b.Reset()
	d := DomainSummary{DomainOverview: DomainOverview{Domain: "a.example", Failed: 1, Reports: 1, Organizations: 1, PolicyType: "sts", Mode: "testing"},
		Days: []DaySessions{{DaySummary: DaySummary{Day: "2026-11-20", Failed: 1}, Sessions: 1}}, Sessions: 1,
		Failures: map[Breakdown][]FailureCount{ByResultType: {{Key: "starttls-not-supported", Failed: 1}}, ByMXHost: {{Failed: 1}}}}
	if err := WriteSummaryText(&b, []DomainSummary{d}, ""); err != nil {
		t.Fatal(err)
	}
	want := "a.example: 1 session, 0.00% successful, 1 report from 1 organisation, policy sts testing\n" +
		"  DAY           SESSIONS      FAILED   SUCCESS\n" +
		"  2026-11-20           1           1     0.00%\n" +
		"  failures by result type:\n" +
		"             1  starttls-not-supported\n" +
		"  failures by sending organisation:\n" +
		"  failures by MX host:\n" +
		"             1  -\n" +
		"  failures by receiving IP:\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
}
