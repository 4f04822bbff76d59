package main

import (
	"encoding/csv"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mtasts/mtasts/ingest"
	"github.com/mtasts/mtasts/reportstore"
)

const ingestData = "../../ingest/testdata/"

// reportsDB returns --db for a new, empty store.
func reportsDB(t *testing.T) string {
	return "--db=sqlite://" + filepath.Join(t.TempDir(), "reports.db")
}

func TestReportsImport(t *testing.T) {
	db := reportsDB(t)
	r := runCmd(t, nil, "", "reports", "import", db, "--dkim", "off", ingestData+"reports", ingestData+"mail/mailru.eml", ingestData+"bad")
	if r.code != exitErrors {
		t.Errorf("import with bad input: exit %d, want %d; stderr %s", r.code, exitErrors, r.stderr)
	}
	for _, want := range []string{
		"accepted     " + ingestData + "reports/google.com!example.com!1795132800!1795219199!001.json (report 1)",
		"(report 2, 3 deviations tolerated)",
		"accepted     " + ingestData + "mail/mailru.eml (report 3, DKIM skipped, ",
		"quarantined  " + ingestData + "bad/newsletter.eml: tlsrpt: no TLS report in the message (quarantine 1)",
		"quarantined  " + ingestData + "bad/truncated.json.gz: tlsrpt report: has a corrupt gzip stream",
		"3 accepted, 0 duplicates, 2 quarantined, 0 not stored",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("import output lacks %q:\n%s", want, r.stdout)
		}
	}
	// Importing again: all duplicates, so nothing rejected.
	r = runCmd(t, nil, "", "reports", "import", db, "--dkim", "off", "--json", ingestData+"mail")
	var res ingest.ImportSummary
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != exitOK {
		t.Fatalf("import --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if res.Accepted != 0 || res.Duplicates != 4 || len(res.Files) != 4 || res.Files[0].Outcome != "duplicate" {
		t.Errorf("import --json = %+v", res)
	}
	r = runCmd(t, nil, "", "reports", "import", db, "--dkim", "sometimes", ingestData+"mail")
	if r.code != exitCannotRun {
		t.Errorf("--dkim sometimes: exit %d", r.code)
	}
}

// importFixtures fills a new store with the fixtures and returns its --db.
func importFixtures(t *testing.T) string {
	t.Helper()
	db := reportsDB(t)
	r := runCmd(t, nil, "", "reports", "import", db, "--dkim", "off", ingestData+"reports", ingestData+"mail/mailru.eml", ingestData+"bad")
	if r.code != exitErrors {
		t.Fatalf("import: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return db
}

func TestReportsListShow(t *testing.T) {
	db := importFixtures(t)
	r := runCmd(t, nil, "", "reports", "list", db, "--domain", "example.com", "--failures")
	if r.code != 0 || !strings.Contains(r.stdout, "Microsoft Corporation") || !strings.Contains(r.stdout, "3 of 3 reports") {
		t.Errorf("list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCmd(t, nil, "", "reports", "list", db, "--json", "--org", "Mail.Ru")
	var page struct {
		Total   int `json:"total"`
		Reports []struct {
			ReportID string `json:"report_id"`
		} `json:"reports"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &page); err != nil || page.Total != 1 || page.Reports[0].ReportID != "0a1b2c3d4e5f6071-example.com" {
		t.Errorf("list --json: %+v, %v\n%s", page, err, r.stdout)
	}

	r = runCmd(t, nil, "", "reports", "show", db, "2")
	for _, want := range []string{"report 2: Microsoft Corporation, report-id 134090784000000000+example.com",
		"policy tlsa for example.com: 57 successful, 3 failed sessions (95.00%)",
		"failure  3 × tlsa-invalid: MX mx1.example.com (192.0.2.25) from 40.107.22.100",
		"[time-without-zone]"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCmd(t, nil, "", "reports", "show", db, "--raw", "2")
	raw, _ := os.ReadFile(ingestData + "reports/microsoft.com!example.com!1795132800!1795219199!134090784000000000.json.gz")
	if r.stdout != string(raw) {
		t.Errorf("show --raw gave %d bytes, want the %d of the file", len(r.stdout), len(raw))
	}
	r = runCmd(t, nil, "", "reports", "show", db, "--json", "3")
	var shown struct {
		Report struct {
			Org string `json:"organization-name"`
		} `json:"report"`
		Mail struct{ Domain string } `json:"mail"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || shown.Report.Org != "Mail.Ru" || shown.Mail.Domain != "example.com" {
		t.Errorf("show --json: %+v, %v\n%s", shown, err, r.stdout)
	}
	if r := runCmd(t, nil, "", "reports", "show", db, "99"); r.code != exitErrors {
		t.Errorf("show of a missing report: exit %d", r.code)
	}
	if r := runCmd(t, nil, "", "reports", "show", db, "x"); r.code != exitCannotRun {
		t.Errorf("show x: exit %d", r.code)
	}
	r = runCmd(t, nil, "", "reports", "quarantine", db)
	if r.code != 0 || !strings.Contains(r.stdout, "2 of 2 entries") {
		t.Errorf("quarantine: exit %d\n%s", r.code, r.stdout)
	}
}

func TestReportsSummary(t *testing.T) {
	db := importFixtures(t)
	r := runCmd(t, nil, "", "reports", "summary", db, "--since", "7d")
	for _, want := range []string{
		"example.com: 1638 sessions, 99.39% successful, 3 reports from 3 organisations, policy sts testing",
		"  2026-11-20        1638          10    99.39%",
		"  failures by result type:\n             4  certificate-expired\n             3  tlsa-invalid",
		"  failures by sending organisation:\n             6  Google Inc.",
		"  failures by MX host:\n             6  mx2.example.com\n             4  mx1.example.com",
		"  failures by receiving IP:\n             4  192.0.2.25",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	// Nothing in the window, but reports outside it: say so, and how to
	// see them.
	r = runCmd(t, nil, "", "reports", "summary", db, "--since", "2026-11-21")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "no reports selected, but the store holds 3 reports (days 2026-11-20 to 2026-11-20): widen --since") {
		t.Errorf("summary of later days: %q", r.stdout)
	}
	r = runCmd(t, nil, "", "reports", "summary", db, "--json", "--domain", "example.com")
	var out struct {
		Domains []domainSummaryJSON `json:"domains"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Domains) != 1 {
		t.Fatalf("summary --json: %v\n%s", err, r.stdout)
	}
	d := out.Domains[0]
	if d.Sessions != 1638 || len(d.Days) != 1 || d.Days[0].Sessions != 1638 || len(d.Failures["organization"]) != 3 {
		t.Errorf("summary --json = %+v", d)
	}
	if r := runCmd(t, nil, "", "reports", "summary", db, "--since", "yesterday"); r.code != exitCannotRun {
		t.Errorf("--since yesterday: exit %d", r.code)
	}
}

func TestReportsExport(t *testing.T) {
	db := importFixtures(t)
	r := runCmd(t, nil, "", "reports", "export", db)
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || r.code != 0 {
		t.Fatalf("export csv: exit %d, %v", r.code, err)
	}
	// Google: 2 failure rows; Microsoft: 1 sts row, 1 tlsa failure row;
	// Mail.Ru: 1 failure row.
	if len(rows) != 6 || !cmp.Equal(rows[0], reportstore.CSVHeader) || rows[1][10] != "certificate-expired" || rows[3][7] != "sts" || rows[3][10] != "" {
		t.Errorf("export csv:\n%s", r.stdout)
	}
	r = runCmd(t, nil, "", "reports", "export", db, "--format", "json", "--org", "Google Inc.")
	var reps []reportstore.ExportedReport
	if err := json.Unmarshal([]byte(r.stdout), &reps); err != nil || len(reps) != 1 || reps[0].Report.Policies[0].Summary.Successful != 1342 {
		t.Errorf("export json: %v\n%s", err, r.stdout)
	}
	r = runCmd(t, nil, "", "reports", "export", db, "--json", "--domain", "example.net")
	if strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("export of nothing = %q", r.stdout)
	}
	if r := runCmd(t, nil, "", "reports", "export", db, "--format", "xml"); r.code != exitCannotRun {
		t.Errorf("--format xml: exit %d", r.code)
	}
}

func TestReportsBadDB(t *testing.T) {
	r := runCmd(t, nil, "", "reports", "list", "--db", "mysql://db/x")
	if r.code != exitCannotRun || !strings.Contains(r.stderr, "unknown scheme") {
		t.Errorf("exit %d, %s", r.code, r.stderr)
	}
}

// TestReportsImportDKIMReason checks that a DKIM result other than a pass
// says why, and that the import says how to read it (--dkim off for
// archives whose keys are gone).
func TestReportsImportDKIMReason(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	pc.Close()
	r := runCmd(t, nil, "", "reports", "import", reportsDB(t), "--resolver", dead, ingestData+"mail/google.eml")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"DKIM temperror: dkim: key unavailable", dead, "1 mail with a DKIM signature that could not be verified", "--dkim off skips the check"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestReportsDataDir checks that --data-dir is where the store goes.
func TestReportsDataDir(t *testing.T) {
	dir := t.TempDir()
	r := runCmd(t, nil, "", "reports", "list", "--data-dir", dir)
	if _, err := os.Stat(filepath.Join(dir, "reports.db")); err != nil || r.code != 0 {
		t.Errorf("--data-dir: exit %d, %v", r.code, err)
	}
}
