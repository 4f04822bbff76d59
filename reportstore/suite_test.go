package reportstore

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mtasts/mtasts/tlsrpt"
)

// opener gives each test a fresh, empty store.
type opener func(t *testing.T) *Store

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// day returns midnight UTC of a date "2006-01-02".
func day(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// newReport returns a one-policy STS report of org for domain on date.
func newReport(t *testing.T, org, id, date, domain string, ok int64, failures ...tlsrpt.FailureDetail) *tlsrpt.Report {
	t.Helper()
	start := day(t, date)
	var failed int64
	for _, f := range failures {
		failed += f.FailedSessionCount
	}
	return &tlsrpt.Report{
		OrganizationName: org, ReportID: id, ContactInfo: "smtp-tls-reporting@" + strings.ToLower(org) + ".example",
		DateRange: tlsrpt.DateRange{Start: start, End: start.Add(24*time.Hour - time.Second)},
		Policies: []tlsrpt.PolicyResult{{
			Policy: tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: domain,
				Strings: []string{"version: STSv1", "mode: testing", "mx: mx1." + domain, "max_age: 86400"},
				MXHosts: []string{"mx1." + domain}},
			Summary:        tlsrpt.Summary{Successful: ok, Failed: failed},
			FailureDetails: failures,
		}},
	}
}

func failure(rt tlsrpt.ResultType, mx, ip string, n int64) tlsrpt.FailureDetail {
	return tlsrpt.FailureDetail{ResultType: rt, SendingMTAIP: netip.MustParseAddr("192.0.2.7"), ReceivingMXHostname: mx,
		ReceivingIP: netip.MustParseAddr(ip), FailedSessionCount: n, FailureReasonCode: "X509_V_ERR"}
}

func submission(rep *tlsrpt.Report) *Submission {
	raw, _ := tlsrpt.Render(rep)
	return &Submission{Report: rep, Raw: raw, RawType: tlsrpt.MediaTypeJSON, Source: SourceFile, Origin: "test.json"}
}

func mustAdd(t *testing.T, s *Store, sub *Submission, want Outcome) Result {
	t.Helper()
	r, err := s.Add(context.Background(), sub)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if r.Outcome != want {
		t.Fatalf("Add: outcome %q (%s), want %q", r.Outcome, r.Reason, want)
	}
	return r
}

// runSuite runs the behaviour every backend must have.
func runSuite(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		s := open(t)
		rep := newReport(t, "Google Inc.", "2026-11-20T00:00:00Z_example.com", "2026-11-20", "example.com", 120,
			failure(tlsrpt.ResultCertificateExpired, "mx1.example.com", "2001:db8::25", 3))
		sub := submission(rep)
		sub.Diagnostics = []tlsrpt.Diagnostic{{Code: tlsrpt.DiagMissingIP, Path: "policies[0]", Message: "is missing"}}
		sub.Mail = &MailInfo{Domain: "Example.COM.", Submitter: "google.com", Subject: "Report Domain: example.com", MessageID: "abc@google.com", DKIM: DKIMPass, DKIMDomain: "google.com"}
		r := mustAdd(t, s, sub, Accepted)
		got, err := s.GetReport(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(rep, got.Report, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("report (-stored +loaded):\n%s", diff)
		}
		if string(got.Raw) != string(sub.Raw) || got.RawType != tlsrpt.MediaTypeJSON {
			t.Errorf("raw = %q (%s), want the input", got.Raw, got.RawType)
		}
		if diff := cmp.Diff(sub.Diagnostics, got.Diagnostics); diff != "" {
			t.Errorf("diagnostics:\n%s", diff)
		}
		wantMail := &MailInfo{Domain: "example.com", Submitter: "google.com", Subject: "Report Domain: example.com", MessageID: "abc@google.com", DKIM: DKIMPass, DKIMDomain: "google.com"}
		if diff := cmp.Diff(wantMail, got.Mail); diff != "" {
			t.Errorf("mail:\n%s", diff)
		}
		if got.Day != "2026-11-20" || got.Successful != 120 || got.Failed != 3 || got.Source != SourceFile ||
			!got.Received.Equal(testNow) || got.Diagnostics == nil || got.DKIM != DKIMPass {
			t.Errorf("info = %+v", got.ReportInfo)
		}
		if _, err := s.GetReport(ctx, r.ID+100); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetReport(missing) = %v, want ErrNotFound", err)
		}
	})

	t.Run("Duplicate", func(t *testing.T) {
		s := open(t)
		rep := newReport(t, "Microsoft Corporation", "133456789012345678+example.com", "2026-11-20", "example.com", 10)
		first := mustAdd(t, s, submission(rep), Accepted)
		again := mustAdd(t, s, submission(rep), Duplicate)
		if again.ID != first.ID {
			t.Errorf("duplicate ID %d, want %d", again.ID, first.ID)
		}
		// Another date range is another report, even with the same id.
		other := newReport(t, "Microsoft Corporation", "133456789012345678+example.com", "2026-11-21", "example.com", 5)
		mustAdd(t, s, submission(other), Accepted)
		days, err := s.DailySummary(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		want := []DaySummary{{Domain: "example.com", Day: "2026-11-20", Successful: 10, Reports: 1}, {Domain: "example.com", Day: "2026-11-21", Successful: 5, Reports: 1}}
		if diff := cmp.Diff(want, days); diff != "" {
			t.Errorf("summary counts the duplicate (-want +got):\n%s", diff)
		}
		page, err := s.ListReports(ctx, ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 2 || page.Reports[1].Duplicates != 1 {
			t.Errorf("list = %+v", page)
		}
	})

	t.Run("ConcurrentDuplicates", func(t *testing.T) {
		s := open(t)
		rep := newReport(t, "Yahoo", "r1", "2026-11-20", "example.com", 10)
		var wg sync.WaitGroup
		results := make([]Result, 8)
		for i := range results {
			wg.Go(func() {
				r, err := s.Add(ctx, submission(rep))
				if err != nil {
					t.Error(err)
				}
				results[i] = r
			})
		}
		wg.Wait()
		accepted := 0
		for _, r := range results {
			if r.Outcome == Accepted {
				accepted++
			}
		}
		if accepted != 1 {
			t.Errorf("%d of %d concurrent copies accepted, want 1: %+v", accepted, len(results), results)
		}
	})

	t.Run("Quarantine", func(t *testing.T) {
		s := open(t)
		raw := []byte("{\"organization-name\": \"Broken\x00\", ")
		sub := &Submission{Raw: raw, RawType: tlsrpt.MediaTypeJSON, Reason: "tlsrpt report: is not valid JSON", Source: SourceHTTPS, Origin: "198.51.100.9"}
		first := mustAdd(t, s, sub, Quarantined)
		if first.Reason != sub.Reason {
			t.Errorf("reason %q", first.Reason)
		}
		again := mustAdd(t, s, sub, Quarantined)
		if again.ID != first.ID {
			t.Errorf("same bytes quarantined twice: %d, %d", first.ID, again.ID)
		}
		page, err := s.ListQuarantine(ctx, QuarantineOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := []QuarantineEntry{{ID: first.ID, Received: testNow, Source: SourceHTTPS, Origin: "198.51.100.9",
			Reason: sub.Reason, Size: len(raw), RawType: tlsrpt.MediaTypeJSON, Attempts: 2}}
		if diff := cmp.Diff(want, page.Entries); diff != "" || page.Total != 1 {
			t.Errorf("quarantine (total %d) (-want +got):\n%s", page.Total, diff)
		}
		q, err := s.GetQuarantined(ctx, first.ID)
		if err != nil || string(q.Raw) != string(raw) {
			t.Errorf("GetQuarantined = %q, %v", q.Raw, err)
		}
		if _, err := s.GetQuarantined(ctx, first.ID+1); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetQuarantined(missing) = %v", err)
		}
	})

	t.Run("Queries", func(t *testing.T) { testQueries(t, open(t)) })
	t.Run("Rollup", func(t *testing.T) { testRollup(t, open(t)) })
	t.Run("Sending", func(t *testing.T) { testSending(t, open) })

	t.Run("BatchSurvivesFailingWrite", func(t *testing.T) {
		s := open(t)
		installPoison(t, s)
		var subs []*Submission
		for i := range 5 {
			rt := tlsrpt.ResultCertificateExpired
			if i == 2 {
				rt = "poison" // the database refuses this one
			}
			subs = append(subs, submission(newReport(t, "Org", fmt.Sprint("r", i), "2026-11-20", "example.com", 1,
				failure(rt, "mx1.example.com", "192.0.2.25", 1))))
		}
		subs = append(subs, &Submission{Raw: []byte("not json"), Reason: "not JSON"})
		results := s.AddBatch(ctx, subs)
		for i, r := range results {
			want := Accepted
			if i >= 2 && i != 3 && i != 4 {
				want = Quarantined
			}
			if r.Err != nil || r.Outcome != want {
				t.Errorf("result %d = %+v, want %s", i, r, want)
			}
		}
		if !strings.Contains(results[2].Reason, "injected failure") {
			t.Errorf("reason of refused report = %q", results[2].Reason)
		}
		page, err := s.ListReports(ctx, ListOptions{})
		if err != nil || page.Total != 4 {
			t.Errorf("stored %d reports (%v), want 4", page.Total, err)
		}
		fails, err := s.Failures(ctx, Filter{}, ByResultType, 0)
		if err != nil || len(fails) != 1 || fails[0].Failed != 4 {
			t.Errorf("failures = %+v, %v: the refused report left rows behind", fails, err)
		}
	})

	t.Run("Sanitised", func(t *testing.T) {
		s := open(t)
		rep := newReport(t, "Bad\x00Org \xff", "id\x00", "2026-11-20", "example.com", 1)
		r := mustAdd(t, s, submission(rep), Accepted)
		got, err := s.GetReport(ctx, r.ID)
		if err != nil || got.Organization != "Bad\uFFFDOrg \uFFFD" {
			t.Errorf("organisation %q, %v", got.Organization, err)
		}
	})

	t.Run("NoPolicyFoundFiledUnderMailDomain", func(t *testing.T) {
		s := open(t)
		rep := newReport(t, "Mail.Ru", "m1", "2026-11-20", "", 7)
		rep.Policies[0].Policy = tlsrpt.Policy{Type: tlsrpt.PolicyNoPolicyFound}
		sub := submission(rep)
		sub.Mail = &MailInfo{Domain: "example.org", DKIM: DKIMNone}
		mustAdd(t, s, sub, Accepted)
		doms, err := s.Domains(ctx, Filter{})
		if err != nil || len(doms) != 1 || doms[0].Domain != "example.org" || doms[0].PolicyType != tlsrpt.PolicyNoPolicyFound {
			t.Errorf("domains = %+v, %v", doms, err)
		}
	})

	t.Run("EachReport", func(t *testing.T) {
		s := open(t)
		var subs []*Submission
		for i := range exportChunk + 7 {
			subs = append(subs, submission(newReport(t, "Org", fmt.Sprint(i), "2026-11-20", "example.com", int64(i))))
		}
		for _, r := range s.AddBatch(ctx, subs) {
			if r.Outcome != Accepted {
				t.Fatalf("%+v", r)
			}
		}
		var n int
		var last int64
		err := s.EachReport(ctx, Filter{Domain: "example.com"}, func(r *StoredReport) error {
			if r.ID <= last || r.Report.Policies[0].Summary.Successful != int64(n) {
				return fmt.Errorf("report %d out of order", r.ID)
			}
			last = r.ID
			n++
			return nil
		})
		if err != nil || n != len(subs) {
			t.Errorf("EachReport visited %d of %d: %v", n, len(subs), err)
		}
	})
}
