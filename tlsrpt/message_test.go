package tlsrpt

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type mailWant struct {
	domain, submitter string
	mediaType         string
	forwarded         bool
	diags             []string
}

// Mails in testdata/mail were written for this package from RFC 8460 §5.3;
// each carries the report of testdata/reports/clean.json.
var mailFixtures = map[string]mailWant{
	"rfc.eml":       {"example.net", "sender.example", MediaTypeGzip, false, nil},
	"json-part.eml": {"example.net", "sender.example", MediaTypeJSON, false, nil},
	"plain-tlsrpt.eml": {"example.net", "sender.example", "application/tlsrpt", false, []string{
		"mail-media-type@mail:part[2].Content-Type",
	}},
	"octet-stream.eml": {"example.net", "sender.example", "application/octet-stream", false, []string{
		"mail-not-multipart-report@mail:Content-Type",
		"mail-media-type@mail:part[2].Content-Type",
	}},
	"gzip-named-gz.eml": {"example.net", "sender.example", "application/gzip", false, []string{
		"mail-media-type@mail:part[2].Content-Type",
		"mail-filename@mail:part[2].filename",
	}},
	"forwarded.eml": {"example.net", "sender.example", MediaTypeGzip, true, []string{
		"mail-forwarded@mail:part[2.2]",
	}},
	"missing-headers.eml": {"", "", MediaTypeGzip, false, []string{
		"mail-missing-header@mail:TLS-Report-Domain",
		"mail-missing-header@mail:TLS-Report-Submitter",
		"mail-filename@mail:part[2]",
	}},
	"mismatch.eml": {"example.org", "sender.example", MediaTypeGzip, false, []string{
		"mail-mismatch@mail:TLS-Report-Domain",
		"mail-mismatch@mail:part[2].filename", // submitter
		"mail-mismatch@mail:part[2].filename", // policy domain
		"mail-mismatch@mail:part[2].filename", // period
	}},
	"odd-filename.eml": {"example.net", "sender.example", MediaTypeGzip, false, []string{
		"mail-filename@mail:part[2].filename",
	}},
	"media-mismatch.eml": {"example.net", "sender.example", MediaTypeGzip, false, []string{
		"mail-media-type@mail:part[2].Content-Type",
	}},
	"single-part.eml": {"example.net", "sender.example", MediaTypeGzip, false, []string{
		"mail-not-multipart-report@mail:Content-Type",
	}},
	"truncated.eml": {"example.net", "sender.example", MediaTypeGzip, false, []string{
		"mail-malformed@mail:part[2]",
	}},
	"two-candidates.eml": {"example.net", "sender.example", "application/octet-stream", false, []string{
		"mail-not-multipart-report@mail:Content-Type",
		"mail-media-type@mail:part[2].Content-Type",
	}},
}

// Mails that yield no report, and the error they give.
var mailErrors = map[string]error{
	"not-tlsrpt.eml":    ErrNoReport, // a DMARC report
	"no-attachment.eml": ErrNoReport,
	"broken-report.eml": ErrReportSyntax, // declared application/tlsrpt+json
}

func TestParseMessageFixtures(t *testing.T) {
	want, _ := parseBytes(t, readFixture(t, "clean.json"))
	names, err := filepath.Glob(filepath.Join("testdata", "mail", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range names {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			mr, err := ParseMessage(bytes.NewReader(data), ParseOptions{})
			if wantErr, ok := mailErrors[name]; ok {
				if !errors.Is(err, wantErr) {
					t.Errorf("ParseMessage error = %v, want %v", err, wantErr)
				}
				return
			}
			w, ok := mailFixtures[name]
			if !ok {
				t.Fatal("fixture is in neither mailFixtures nor mailErrors")
			}
			if err != nil {
				t.Fatalf("ParseMessage: %v", err)
			}
			if diff := cmp.Diff(want, mr.Report, cmpReport...); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			got := mailWant{mr.Domain, mr.Submitter, mr.MediaType, mr.Forwarded, diagKeys(mr.Diagnostics)}
			if diff := cmp.Diff(w, got, cmp.AllowUnexported(mailWant{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if mr.Subject != "Report Domain: example.net Submitter: sender.example Report-ID: <2024-05-01_example.net_0001>" {
				t.Errorf("Subject = %q", mr.Subject)
			}
			if mr.MessageID != "20240502041233.7f3a@sender.example" {
				t.Errorf("MessageID = %q", mr.MessageID)
			}
		})
	}
}

func TestParseMessageSizeCap(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "mail", "json-part.eml"))
	if err != nil {
		t.Fatal(err)
	}
	// The report part alone is over the cap.
	if _, err := ParseMessage(bytes.NewReader(data), ParseOptions{MaxSize: 1000}); !errors.Is(err, ErrReportTooLarge) {
		t.Errorf("report over the cap: error = %v, want ErrReportTooLarge", err)
	}
	// The mail is over twice the cap, even with nothing in it.
	big := "Subject: x\r\nContent-Type: text/plain\r\n\r\n" + strings.Repeat("x", 5000)
	if _, err := ParseMessage(strings.NewReader(big), ParseOptions{MaxSize: 1000}); !errors.Is(err, ErrReportTooLarge) {
		t.Errorf("mail over the cap: error = %v, want ErrReportTooLarge", err)
	}
	if _, err := ParseMessage(strings.NewReader("not a mail\x00"), ParseOptions{}); !errors.Is(err, ErrNoReport) {
		t.Errorf("garbage: error = %v, want ErrNoReport", err)
	}
}

// corpusMail records what ParseMessage finds in each mail of the corpus.
var corpusMail = map[string]mailWant{
	"isseis__tlsrpt-digest__tlsrpt_failure.eml": {"example.com", "google.com", MediaTypeGzip, false, []string{
		"mail-mismatch@mail:part[2].filename", // body replaced: period differs from the name
		"end-at-next-midnight@date-range.end-datetime",
		"missing-ip@policies[0].failure-details[0].receiving-ip",
	}},
	"isseis__tlsrpt-digest__tlsrpt_success_google_1.eml":  {"example.com", "google.com", MediaTypeGzip, false, nil},
	"isseis__tlsrpt-digest__tlsrpt_success_google_2.eml":  {"example.com", "google.com", MediaTypeGzip, false, nil},
	"isseis__tlsrpt-digest__tlsrpt_success_microsoft.eml": {"example.com", "microsoft.com", MediaTypeGzip, false, nil},
	"kravietz__tlsrpt-rs__google1.eml":                    {"krvtz.net", "google.com", MediaTypeGzip, false, nil},
	"kravietz__tlsrpt-rs__microsoft1.eml": {"krvtz.net", "microsoft.com", MediaTypeGzip, false, []string{
		"policy-string-encoded@policies[1].policy.policy-string", // 13 TLSA records in one string
	}},
	"mjl-__mox__example.eml": {"test.xmox.nl", "google.com", MediaTypeGzip, false, nil},
	"robalexdev__tlsrpt-be__test.eml": {"example.net", "mail.sender.example.com", MediaTypeGzip, false, []string{
		"mail-malformed@mail:part[2]",          // no closing boundary
		"mail-mismatch@mail:TLS-Report-Domain", // the body is about xn--gpher-jua.test
		"mail-mismatch@mail:part[2].filename",  // submitter mail.sender.example
		"mail-mismatch@mail:part[2].filename",  // policy domain example.com
		"mail-mismatch@mail:part[2].filename",  // 2002 in the name, 2016 in the body
		"mx-host-string@policies[0].policy.mx-host",
		"missing-ip@policies[0].failure-details[0].receiving-ip",
	}},
	"stalwartlabs__mail-auth__rpt01.eml": {"example.net", "mail.sender.example.com", MediaTypeGzip, false, []string{
		"mail-mismatch@mail:TLS-Report-Domain",
		"mail-mismatch@mail:part[2].filename",
		"mail-mismatch@mail:part[2].filename",
		"mail-mismatch@mail:part[2].filename",
		"missing-ip@policies[0].failure-details[0].receiving-ip",
	}},
}

func TestCorpusMail(t *testing.T) {
	dir := corpusDir(t)
	names, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatalf("no mails in %s", dir)
	}
	for _, path := range names {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			w, ok := corpusMail[name]
			if !ok {
				t.Fatal("new corpus file: add it to corpusMail")
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			mr, err := ParseMessage(bytes.NewReader(data), ParseOptions{})
			if err != nil {
				t.Fatalf("ParseMessage: %v", err)
			}
			got := mailWant{mr.Domain, mr.Submitter, mr.MediaType, mr.Forwarded, diagKeys(mr.Diagnostics)}
			if diff := cmp.Diff(w, got, cmp.AllowUnexported(mailWant{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if !strings.HasSuffix(mr.Filename, ".json.gz") {
				t.Errorf("Filename = %q", mr.Filename)
			}
		})
	}
}

func TestParseFilename(t *testing.T) {
	ts := func(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
	good := []struct {
		name string
		want Filename
	}{
		{"mail.sender.example.com!example.net!1470013207!1470186007!001.json.gz",
			Filename{"mail.sender.example.com", "example.net", ts(1470013207), ts(1470186007), "001", true}},
		{"google.com!example.com!1778544000!1778630399!001.json.gz",
			Filename{"google.com", "example.com", ts(1778544000), ts(1778630399), "001", true}},
		{"sender.example!example.net!0!86399.JSON",
			Filename{"sender.example", "example.net", ts(0), ts(86399), "", false}},
	}
	for _, tc := range good {
		f, err := ParseFilename(tc.name)
		if err != nil {
			t.Errorf("RFC 8460 §5.1 ParseFilename(%q): %v", tc.name, err)
			continue
		}
		if diff := cmp.Diff(tc.want, *f); diff != "" {
			t.Errorf("RFC 8460 §5.1 ParseFilename(%q) (-want +got):\n%s", tc.name, diff)
		}
		if f.Gzip && FilenameFor(f.Submitter, f.PolicyDomain, f.Begin, f.End, f.Unique) != tc.name {
			t.Errorf("FilenameFor does not give back %q", tc.name)
		}
	}
	for _, name := range []string{
		"", "report.json.gz", "a!b!1!2.xml.gz", "a!b!1!2!3!4.json", "a!b!x!2.json", "a!b!-1!2.json",
		"!b!1!2.json", "a!!1!2.json", "a!b!1!2!.json", "a!b!1!99999999999999999999.json",
	} {
		if f, err := ParseFilename(name); err == nil {
			t.Errorf("RFC 8460 §5.1 ParseFilename(%q) = %+v, want error", name, f)
		}
	}
}

func FuzzParseMessage(f *testing.F) {
	addFileSeeds(f, filepath.Join("testdata", "mail", "*.eml"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mr, err := ParseMessage(bytes.NewReader(data), ParseOptions{MaxSize: 1 << 20})
		if err != nil {
			if mr != nil {
				t.Fatal("report and error both returned")
			}
			if !errors.Is(err, ErrNoReport) && !errors.Is(err, ErrReportSyntax) && !errors.Is(err, ErrReportTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if mr.Report == nil {
			t.Fatal("no report and no error")
		}
	})
}
