package tlsrptsend

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mtasts/mtasts/tlsrpt"
)

// TestAggregatorConcurrent records from several sources at once, as the
// enforce service, a log reader and deliver's observer will, while
// results are read: every outcome is counted once, in its UTC day
// (RFC 8460 §4.1).
func TestAggregatorConcurrent(t *testing.T) {
	a := NewAggregator()
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	next := day.Add(24 * time.Hour)
	ip := netip.MustParseAddr("192.0.2.1")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			// Every two minutes from midnight: i < 720 on the 7th.
			for i := range 1000 {
				o := Outcome{Time: day.Add(time.Duration(2*i) * time.Minute), Policy: stsPolicy, MXHost: "mx1.example.com", ReceivingIP: ip, SendingIP: ip}
				if i%4 == g {
					o.Result = tlsrpt.ResultCertificateExpired
				}
				a.Record(o)
				if i%100 == 0 {
					a.Results(day, "example.com")
				}
			}
		})
	}
	wg.Wait()
	got := map[time.Time]tlsrpt.Summary{}
	for _, d := range []time.Time{day, next} {
		for _, pr := range a.Results(d, "example.com") {
			got[d] = pr.Summary
		}
	}
	want := map[time.Time]tlsrpt.Summary{
		day:  {Successful: 3 * 720, Failed: 720},
		next: {Successful: 3 * 280, Failed: 280},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summaries per day (-want +got):\n%s", diff)
	}
}
