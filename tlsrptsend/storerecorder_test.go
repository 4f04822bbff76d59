package tlsrptsend

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// TestStoreRecorder: outcomes are summed in memory and reach the store
// on Flush and on Close; a flush the store refuses (here, cancelled)
// loses nothing, the next one stores it; two recorders add up.
func TestStoreRecorder(t *testing.T) {
	store, err := reportstore.Open(t.Context(), sqliteURL(t), reportstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	o := Outcome{Time: day.Add(time.Hour), Policy: stsPolicy, MXHost: "mx1.example.com",
		ReceivingIP: netip.MustParseAddr("127.1.0.9"), SendingIP: netip.MustParseAddr("192.0.2.1")}
	failed := o
	failed.Result = tlsrpt.ResultCertificateExpired

	stored := func() tlsrpt.Summary {
		t.Helper()
		prs, err := store.OutcomeResults(t.Context(), day, "example.com")
		if err != nil {
			t.Fatal(err)
		}
		var sum tlsrpt.Summary
		for _, pr := range prs {
			sum = sum.Add(pr.Summary)
		}
		return sum
	}

	r1, r2 := NewStoreRecorder(store), NewStoreRecorder(store)
	r1.Metrics = NewMetrics(prometheus.NewRegistry())
	r1.Record(o)
	r1.Record(failed)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if err := r1.Flush(cancelled); err == nil {
		t.Fatal("Flush with a cancelled context succeeded")
	}
	if got := stored(); got != (tlsrpt.Summary{}) {
		t.Fatalf("stored after a failed flush: %+v", got)
	}
	r1.Record(o)
	if err := r1.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := stored(), (tlsrpt.Summary{Successful: 2, Failed: 1}); got != want {
		t.Errorf("after Flush: %+v, want %+v", got, want)
	}
	if ok, expired := testutil.ToFloat64(r1.Metrics.outcomes.WithLabelValues("success")), testutil.ToFloat64(r1.Metrics.outcomes.WithLabelValues("certificate-expired")); ok != 2 || expired != 1 {
		t.Errorf("outcome metrics: %v successes, %v certificate-expired; want 2 and 1", ok, expired)
	}
	r2.Start(time.Hour)
	r2.Record(failed)
	if err := r2.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := stored(), (tlsrpt.Summary{Successful: 2, Failed: 2}); got != want {
		t.Errorf("after Close: %+v, want %+v", got, want)
	}
	prs, _ := store.OutcomeResults(t.Context(), day, "example.com")
	if len(prs) != 1 || len(prs[0].FailureDetails) != 1 || prs[0].FailureDetails[0].FailedSessionCount != 2 {
		t.Errorf("failure details: %+v", prs)
	}
}
