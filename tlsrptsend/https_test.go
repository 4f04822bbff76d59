package tlsrptsend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/tlsrpt"
)

// reportReceiver is an https rua of a testworld: it answers the statuses
// of fail in turn, then 200 to every POST, and keeps the reports it
// accepted.
type reportReceiver struct {
	mu       sync.Mutex
	fail     []int
	posts    int
	accepted [][]byte
}

func (rr *reportReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.posts++
	if r.Header.Get("Content-Type") != tlsrpt.MediaTypeGzip {
		http.Error(w, "wrong media type", http.StatusUnsupportedMediaType)
		return
	}
	if len(rr.fail) > 0 {
		status := rr.fail[0]
		rr.fail = rr.fail[1:]
		w.WriteHeader(status)
		return
	}
	rr.accepted = append(rr.accepted, body)
	w.WriteHeader(http.StatusOK)
}

func (rr *reportReceiver) counts() (posts, accepted int) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return rr.posts, len(rr.accepted)
}

// httpsSetup starts an https rua answering fail first, and a deliverer
// on a test clock whose sleeps advance the clock.
func httpsSetup(t *testing.T, fail ...int) (*reportReceiver, *HTTPSDeliverer, *testclock.Clock, *Built) {
	w := testworld.New(t)
	rr := &reportReceiver{fail: fail}
	w.HTTPSHost("reports.example.com").SetHandler(rr)
	clock := testclock.New(time.Date(2026, 12, 8, 0, 17, 0, 0, time.UTC))
	client := w.HTTPClient()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	d := &HTTPSDeliverer{
		Client: client,
		Now:    clock.Now,
		Sleep: func(_ context.Context, d time.Duration) error {
			clock.Advance(d)
			return nil
		},
	}
	b := testReport(t)
	return rr, d, clock, b
}

// testReport builds a small report.
func testReport(t *testing.T) *Built {
	t.Helper()
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	b, err := Build(testSubmitter, day, "example.com", []tlsrpt.PolicyResult{{Policy: stsPolicy, Summary: tlsrpt.Summary{Successful: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const testRUA = "https://reports.example.com/v1/tlsrpt"

// TestHTTPSDeliverRetries: the rua fails twice (503, then 500), then
// accepts; the report arrives exactly once, after backoffs of one and two
// minutes (RFC 8460 §5.5), and the state says delivered.
func TestHTTPSDeliverRetries(t *testing.T) {
	rr, d, clock, b := httpsSetup(t, http.StatusServiceUnavailable, http.StatusInternalServerError)
	start := clock.Now()
	var saved []DeliveryState
	d.Save = func(st *DeliveryState) error { saved = append(saved, *st); return nil }
	st := NewDeliveryState(testRUA, b.Report.ReportID)
	if err := d.Deliver(t.Context(), st, b.Gzip); err != nil {
		t.Fatal(err)
	}
	if posts, accepted := rr.counts(); posts != 3 || accepted != 1 {
		t.Errorf("%d posts, %d accepted; want 3 and 1", posts, accepted)
	}
	if !bytes.Equal(rr.accepted[0], b.Gzip) {
		t.Error("the report received differs from the one sent")
	}
	if st.Status != DeliveryDelivered || st.Attempts != 3 || !st.Done.Equal(start.Add(3*time.Minute)) || len(saved) != 3 {
		t.Errorf("state %+v after %d saves", st, len(saved))
	}
	// Delivering again sends nothing.
	if err := d.Deliver(t.Context(), st, b.Gzip); err != nil {
		t.Fatal(err)
	}
	if posts, _ := rr.counts(); posts != 3 {
		t.Errorf("a delivered report was posted again")
	}
}

// TestHTTPSDeliverResume: the process stops after each failed attempt
// (its Sleep fails, as at shutdown); a new deliverer resumes from the
// state stored as JSON, waits for the rest of the backoff, and the report
// still arrives exactly once.
func TestHTTPSDeliverResume(t *testing.T) {
	rr, d, clock, b := httpsSetup(t, http.StatusServiceUnavailable, http.StatusBadGateway)
	var stored []byte
	errStop := errors.New("stopped")
	st := NewDeliveryState(testRUA, b.Report.ReportID)
	for run := 1; ; run++ {
		if stored != nil {
			st = new(DeliveryState)
			if err := json.Unmarshal(stored, st); err != nil {
				t.Fatal(err)
			}
		}
		fresh := *d
		fresh.Save = func(st *DeliveryState) (err error) { stored, err = json.Marshal(st); return err }
		fresh.Sleep = func(context.Context, time.Duration) error { return errStop }
		err := fresh.Deliver(t.Context(), st, b.Gzip)
		if err == nil {
			break
		}
		if !errors.Is(err, errStop) || run > 5 {
			t.Fatalf("run %d: %v", run, err)
		}
		clock.Advance(10 * time.Minute) // the restart takes a while
	}
	if posts, accepted := rr.counts(); posts != 3 || accepted != 1 {
		t.Errorf("%d posts, %d accepted; want 3 and 1", posts, accepted)
	}
	var final DeliveryState
	if err := json.Unmarshal(stored, &final); err != nil || final.Status != DeliveryDelivered || final.Attempts != 3 {
		t.Errorf("stored state %s (%v)", stored, err)
	}
}

// TestHTTPSDeliverGivesUp: a rua that always fails is retried for 24
// hours after the first attempt, the last attempt at the end of that
// window, then given up; a 404 is given up at once; a redirect is not
// followed.
func TestHTTPSDeliverGivesUp(t *testing.T) {
	fail := make([]int, 100)
	for i := range fail {
		fail[i] = http.StatusServiceUnavailable
	}
	rr, d, clock, b := httpsSetup(t, fail...)
	start := clock.Now()
	st := NewDeliveryState(testRUA, b.Report.ReportID)
	err := d.Deliver(t.Context(), st, b.Gzip)
	if !errors.Is(err, ErrGaveUp) {
		t.Fatalf("error %v, state %+v", err, st)
	}
	posts, _ := rr.counts()
	// At 0, 1, 3, 7 ... 1023 minutes (backoffs 1, 2, 4 ... 512 minutes),
	// then at 24 hours: 12.
	if posts != 12 || !st.Done.Equal(start.Add(RetryWindow)) || st.Status != DeliveryFailed {
		t.Errorf("%d posts, state %+v", posts, st)
	}

	for _, status := range []int{http.StatusNotFound, http.StatusPermanentRedirect} {
		rr, d, _, b := httpsSetup(t, status)
		st := NewDeliveryState(testRUA, b.Report.ReportID)
		if err := d.Deliver(t.Context(), st, b.Gzip); !errors.Is(err, ErrRefused) || st.Status != DeliveryFailed {
			t.Errorf("HTTP %d: error %v, state %+v", status, err, st)
		}
		if posts, _ := rr.counts(); posts != 1 {
			t.Errorf("HTTP %d: %d posts, want 1", status, posts)
		}
	}
}
