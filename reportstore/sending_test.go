package reportstore

import (
	"context"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/tlsrpt"
)

// testSending checks what the sending side of RFC 8460 keeps in the
// store: outcomes summed across adds, the queue, the lease and the
// suppression list.
func testSending(t *testing.T, open opener) {
	ctx := context.Background()
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	sts := tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: "example.com",
		Strings: []string{"version: STSv1", "mode: testing", "mx: mx1.example.com", "max_age: 86400"}, MXHosts: []string{"mx1.example.com"}}
	fd := func(n int64) tlsrpt.FailureDetail {
		return tlsrpt.FailureDetail{ResultType: tlsrpt.ResultCertificateExpired, SendingMTAIP: netip.MustParseAddr("192.0.2.1"),
			ReceivingMXHostname: "mx1.example.com", ReceivingIP: netip.MustParseAddr("2001:db8::25"), FailedSessionCount: n}
	}

	// A collector's cursor is stored with the outcomes it read, or not at
	// all: a batch that fails leaves both as they were.
	t.Run("OutcomeCursor", func(t *testing.T) {
		s := open(t)
		cursor := func(want string) {
			t.Helper()
			if got, err := s.OutcomeCursor(ctx, "postfix"); err != nil || got != want {
				t.Fatalf("OutcomeCursor = %q, %v; want %q", got, err, want)
			}
		}
		cursor("")
		batch := []DayOutcomes{{Day: day, Domain: "example.com", Results: []tlsrpt.PolicyResult{{Policy: sts, Summary: tlsrpt.Summary{Successful: 2}}}}}
		if err := s.AddOutcomeBatch(ctx, batch, []Cursor{{Name: "postfix", Position: "a"}}); err != nil {
			t.Fatal(err)
		}
		cursor("a")
		bad := append(batch, DayOutcomes{Day: day, Domain: "", Results: batch[0].Results})
		if err := s.AddOutcomeBatch(ctx, bad, []Cursor{{Name: "postfix", Position: "b"}}); err == nil {
			t.Fatal("a batch with an outcome without policy domain was stored")
		}
		cursor("a")
		if err := s.AddOutcomeBatch(ctx, batch, []Cursor{{Name: "postfix", Position: "c"}}); err != nil {
			t.Fatal(err)
		}
		cursor("c")
		got, err := s.OutcomeResults(ctx, day, "example.com")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Summary.Successful != 4 {
			t.Errorf("OutcomeResults = %+v, want the 4 sessions of the two batches stored", got)
		}
	})

	// RFC 8460 §4.1: one report per day and domain, however many MTAs
	// add to it; counts add up and saturate rather than overflow.
	t.Run("OutcomesAddUp", func(t *testing.T) {
		s := open(t)
		add := func(day time.Time, domain string, prs ...tlsrpt.PolicyResult) {
			t.Helper()
			if err := s.AddOutcomes(ctx, day, domain, prs); err != nil {
				t.Fatal(err)
			}
		}
		add(day, "Example.COM.", tlsrpt.PolicyResult{Policy: sts, Summary: tlsrpt.Summary{Successful: 10, Failed: 2}, FailureDetails: []tlsrpt.FailureDetail{fd(2)}})
		add(day.Add(13*time.Hour), "example.com", tlsrpt.PolicyResult{Policy: sts, Summary: tlsrpt.Summary{Successful: 5, Failed: 1}, FailureDetails: []tlsrpt.FailureDetail{fd(1)}})
		none := tlsrpt.Policy{Type: tlsrpt.PolicyNoPolicyFound, Domain: "example.com"}
		add(day, "example.com", tlsrpt.PolicyResult{Policy: none, Summary: tlsrpt.Summary{Successful: math.MaxInt64 - 1}})
		add(day, "example.com", tlsrpt.PolicyResult{Policy: none, Summary: tlsrpt.Summary{Successful: 7}})
		add(day.Add(24*time.Hour), "example.com", tlsrpt.PolicyResult{Policy: sts, Summary: tlsrpt.Summary{Successful: 1}})
		add(day, "other.example", tlsrpt.PolicyResult{Policy: none, Summary: tlsrpt.Summary{Successful: 3}})

		got, err := s.OutcomeResults(ctx, day, "example.com")
		if err != nil {
			t.Fatal(err)
		}
		want := map[tlsrpt.PolicyType]tlsrpt.PolicyResult{
			tlsrpt.PolicySTS:           {Policy: sts, Summary: tlsrpt.Summary{Successful: 15, Failed: 3}, FailureDetails: []tlsrpt.FailureDetail{fd(3)}},
			tlsrpt.PolicyNoPolicyFound: {Policy: none, Summary: tlsrpt.Summary{Successful: math.MaxInt64}},
		}
		if len(got) != len(want) {
			t.Fatalf("OutcomeResults = %+v, want %d policies", got, len(want))
		}
		for _, pr := range got {
			if diff := cmp.Diff(want[pr.Policy.Type], pr, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("%s policy (-want +got):\n%s", pr.Policy.Type, diff)
			}
		}
		totals, err := s.OutcomeTotals(ctx, day, day.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		wantTotals := []OutcomeTotal{
			{Day: day, Domain: "example.com", Successful: math.MaxInt64, Failed: 3},
			{Day: day, Domain: "other.example", Successful: 3},
		}
		if diff := cmp.Diff(wantTotals, totals); diff != "" {
			t.Errorf("OutcomeTotals (-want +got):\n%s", diff)
		}
		if added, err := s.MarkDayBuilt(ctx, day, 1, 1); err != nil || !added {
			t.Fatalf("MarkDayBuilt = %v, %v", added, err)
		}
		if added, err := s.MarkDayBuilt(ctx, day, 1, 1); err != nil || added {
			t.Fatalf("second MarkDayBuilt = %v, %v; want false", added, err)
		}
		if totals, _ := s.OutcomeTotals(ctx, day, time.Time{}); len(totals) != 3 || !totals[0].Built || totals[2].Built {
			t.Errorf("OutcomeTotals after MarkDayBuilt = %+v", totals)
		}
	})

	t.Run("Queue", func(t *testing.T) {
		s := open(t)
		q := Queued{Day: day, Domain: "example.com", URI: "https://rua.example/", ReportID: "r1", Filename: "f.json.gz",
			Report: []byte{0x1f, 0x8b, 1}, Status: "pending", NextAttempt: time.Unix(0, 0), State: []byte(`{"attempts":0}`)}
		for i, want := range []bool{true, false} {
			if added, err := s.Enqueue(ctx, q); err != nil || added != want {
				t.Fatalf("Enqueue #%d = %v, %v; want %v", i+1, added, err, want)
			}
		}
		due, err := s.QueuedReports(ctx, QueueFilter{Statuses: []string{"pending"}, DueBy: testNow, WithData: true})
		if err != nil || len(due) != 1 || string(due[0].Report) != string(q.Report) || string(due[0].State) != string(q.State) {
			t.Fatalf("QueuedReports = %+v, %v", due, err)
		}
		q.Status, q.NextAttempt, q.State = "pending", testNow.Add(time.Hour), []byte(`{"attempts":1}`)
		if err := s.UpdateQueued(ctx, q); err != nil {
			t.Fatal(err)
		}
		if due, _ := s.QueuedReports(ctx, QueueFilter{DueBy: testNow}); len(due) != 0 {
			t.Errorf("a delivery due in an hour is due now: %+v", due)
		}
		if all, _ := s.QueuedReports(ctx, QueueFilter{Day: day}); len(all) != 1 || all[0].Report != nil || !all[0].NextAttempt.Equal(q.NextAttempt) {
			t.Errorf("QueuedReports without data = %+v", all)
		}
	})

	// One holder at a time; a lease not renewed passes to another once
	// it has expired.
	t.Run("Lease", func(t *testing.T) {
		s := open(t)
		clock := testclock.New(testNow)
		s.now = clock.Now
		take := func(holder string, want bool) {
			t.Helper()
			if got, err := s.AcquireLease(ctx, "job", holder, time.Minute); err != nil || got != want {
				t.Fatalf("AcquireLease(%s) = %v, %v; want %v", holder, got, err, want)
			}
		}
		take("a", true)
		take("b", false)
		clock.Advance(50 * time.Second)
		take("a", true) // renewed until 110 s
		clock.Advance(50 * time.Second)
		take("b", false)
		clock.Advance(11 * time.Second)
		take("b", true)
		take("a", false)
		if err := s.ReleaseLease(ctx, "job", "a"); err != nil {
			t.Fatal(err)
		}
		take("a", false) // a cannot release b's lease
		if err := s.ReleaseLease(ctx, "job", "b"); err != nil {
			t.Fatal(err)
		}
		take("a", true)
	})

	t.Run("Suppression", func(t *testing.T) {
		s := open(t)
		check := func(target string, max int64, want bool) {
			t.Helper()
			sup, err := s.Suppressed(ctx, target, max)
			if err != nil || (sup != nil) != want {
				t.Fatalf("Suppressed(%s, %d) = %+v, %v; want %v", target, max, sup, err, want)
			}
		}
		uri := "mailto:tlsrpt@example.com"
		for i := range 3 {
			if n, err := s.CountFailure(ctx, uri, "550 no such user"); err != nil || n != int64(i+1) {
				t.Fatalf("CountFailure = %d, %v", n, err)
			}
		}
		check(uri, 3, true)
		check(uri, 4, false)
		check(uri, 0, false)
		if err := s.ResetFailures(ctx, uri); err != nil {
			t.Fatal(err)
		}
		check(uri, 1, false)
		if err := s.Suppress(ctx, "example.com", "asked us to stop"); err != nil {
			t.Fatal(err)
		}
		s.CountFailure(ctx, "example.com", "x")
		s.ResetFailures(ctx, "example.com")
		check("example.com", 0, true) // by hand: stays
		if list, err := s.Suppressions(ctx); err != nil || len(list) != 1 || list[0].Target != "example.com" || !list[0].Manual || list[0].Reason != "asked us to stop" {
			t.Errorf("Suppressions = %+v, %v", list, err)
		}
		if err := s.Unsuppress(ctx, "example.com"); err != nil {
			t.Fatal(err)
		}
		check("example.com", 0, false)
	})
}
