package tlsrptsend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/mtasts/mtasts/tlsrpt"
)

// DeliveryStatus says where the delivery of a report to one rua stands.
type DeliveryStatus string

// Delivery states.
const (
	DeliveryPending   DeliveryStatus = "pending"   // to be attempted at Next
	DeliveryDelivered DeliveryStatus = "delivered" // the receiver accepted it
	DeliveryFailed    DeliveryStatus = "failed"    // given up: refused, or 24 hours of failures
	// DeliverySending is stored by Sender before each attempt and
	// replaced after it: found by the next holder of the lease, it says
	// that the last one stopped during the attempt, which is made again.
	DeliverySending DeliveryStatus = "sending"
)

// DeliveryState is the persisted state of delivering one report to one
// rua URI (RFC 8460 §5.5). A caller stores it (it is plain JSON) whenever
// the Save hook of HTTPSDeliverer hands it over, and after a restart
// resumes with the stored state: a delivered report is never sent again,
// and retries keep their schedule.
type DeliveryState struct {
	URI       string         `json:"uri"`
	ReportID  string         `json:"report_id"`
	Status    DeliveryStatus `json:"status"`
	Attempts  int            `json:"attempts"`
	First     time.Time      `json:"first_attempt,omitzero"` // the first attempt; retries end 24 hours later
	Next      time.Time      `json:"next_attempt,omitzero"`  // when to attempt next, while pending
	Done      time.Time      `json:"done,omitzero"`          // when delivered or given up
	LastError string         `json:"last_error,omitempty"`
}

// NewDeliveryState returns the state of a report not yet sent to uri.
func NewDeliveryState(uri, reportID string) *DeliveryState {
	return &DeliveryState{URI: uri, ReportID: reportID, Status: DeliveryPending}
}

// RetryWindow is how long RFC 8460 §5.5 has a sender retry a failed
// delivery: "for up to 24 hours after the initial attempt".
const RetryWindow = 24 * time.Hour

// HTTPSDeliverer posts reports to https: rua URIs (RFC 8460 §5.4) and
// retries them with exponential backoff for RetryWindow (§5.5: retries
// "on a logarithmic scale").
//
// A response 200 or 201 is delivery, as §5.4 says. So is any other 2xx
// (202 Accepted, 204 No Content): the server took the report, and posting
// it again could only duplicate it. A 4xx other than 408, 425 and 429
// refuses this report for good (it will not change on a retry: the
// receiver does not want it, or it is too large); redirects are not
// followed (as for policy fetches, RFC 8461 §3.3) and fail for good too.
// Every other answer, and every network or TLS error, is retried.
type HTTPSDeliverer struct {
	// Client sends the requests; it must not follow redirects. Nil means
	// an http.Client with a one-minute timeout that refuses redirects.
	Client *http.Client
	// Now is the clock (time.Now if nil); Sleep waits for d or until ctx
	// is done (a timer if nil). Tests drive both.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Save is called with the state after every attempt, before any wait:
	// store it to resume after a restart. An error stops the delivery.
	Save func(*DeliveryState) error
	// Backoff is the first retry delay (one minute if zero); each next one
	// doubles it.
	Backoff time.Duration
	// UserAgent is sent as User-Agent if set.
	UserAgent string
}

// ErrRefused is wrapped by the errors of deliveries given up because the
// receiver refused the report.
var ErrRefused = errors.New("tlsrptsend: report refused")

// ErrGaveUp is wrapped by the errors of deliveries given up after
// RetryWindow of failures.
var ErrGaveUp = errors.New("tlsrptsend: delivery given up after 24 hours of failures")

// Deliver sends report (application/tlsrpt+gzip, as Built.Gzip) to
// st.URI, waiting for and retrying attempts as st says, until it is
// delivered, refused, RetryWindow has passed since the first attempt, or
// ctx is done. It returns nil once delivered (at once if st says it
// already was), and otherwise the last error.
//
// A crash between the receiver's answer and Save leaves the state of the
// attempt before: the report would be posted once more. Its report-id is
// the same, so a receiver can tell it (RFC 8460 §4.4).
func (d *HTTPSDeliverer) Deliver(ctx context.Context, st *DeliveryState, report []byte) error {
	for {
		switch st.Status {
		case DeliveryDelivered:
			return nil
		case DeliveryFailed:
			return fmt.Errorf("tlsrptsend: report %s to %s: %s", st.ReportID, st.URI, st.LastError)
		}
		if wait := st.Next.Sub(d.now()); wait > 0 {
			if err := d.sleep(ctx, wait); err != nil {
				return err
			}
		}
		final, err := st.attempt(ctx, d.now, d.backoff, func(ctx context.Context) error { return d.post(ctx, st, report) })
		if err != nil {
			return err
		}
		if d.Save != nil {
			if err := d.Save(st); err != nil {
				return fmt.Errorf("tlsrptsend: saving the delivery state of %s: %w", st.ReportID, err)
			}
		}
		if final != nil {
			return final
		}
	}
}

// attempt makes one attempt with try and updates st with its result: a
// delivery, a refusal (an error wrapping ErrRefused) or the end of
// RetryWindow end it, other errors schedule a retry after backoff. final
// is the error of a delivery given up; err is ctx's error if it was
// cancelled, st then unchanged.
func (st *DeliveryState) attempt(ctx context.Context, now func() time.Time, backoff func(int) time.Duration, try func(context.Context) error) (final, err error) {
	t := now()
	if st.First.IsZero() {
		st.First = t
	}
	first := st.First
	st.Attempts++
	tryErr := try(ctx)
	t = now()
	switch {
	case tryErr == nil:
		st.Status, st.Done, st.LastError = DeliveryDelivered, t, ""
	case errors.Is(tryErr, ErrRefused):
		final = tryErr
		st.Status, st.Done, st.LastError = DeliveryFailed, t, tryErr.Error()
	case ctx.Err() != nil:
		st.Attempts-- // cancelled, not attempted
		if st.Attempts == 0 {
			st.First = time.Time{}
		}
		return nil, ctx.Err()
	case !t.Before(first.Add(RetryWindow)):
		final = fmt.Errorf("%w: %w", ErrGaveUp, tryErr)
		st.Status, st.Done, st.LastError = DeliveryFailed, t, final.Error()
	default:
		st.LastError = tryErr.Error()
		st.Next = t.Add(backoff(st.Attempts))
		if end := first.Add(RetryWindow); st.Next.After(end) {
			st.Next = end // one last attempt at the end of the window
		}
	}
	return final, nil
}

// post makes one attempt.
func (d *HTTPSDeliverer) post(ctx context.Context, st *DeliveryState, report []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.URI, bytes.NewReader(report))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	if req.URL.Scheme != "https" {
		return fmt.Errorf("%w: %s is not an https: URI (RFC 8460 §5.4)", ErrRefused, st.URI)
	}
	req.Header.Set("Content-Type", tlsrpt.MediaTypeGzip)
	if d.UserAgent != "" {
		req.Header.Set("User-Agent", d.UserAgent)
	}
	resp, err := d.client().Do(req)
	if err != nil {
		return fmt.Errorf("tlsrptsend: posting report %s to %s: %w", st.ReportID, st.URI, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout, c == http.StatusTooEarly, c == http.StatusTooManyRequests, c >= 500:
		return fmt.Errorf("tlsrptsend: report %s to %s: HTTP status %s", st.ReportID, st.URI, resp.Status)
	default:
		return fmt.Errorf("%w: %s answered HTTP status %s", ErrRefused, st.URI, resp.Status)
	}
}

func (d *HTTPSDeliverer) backoff(attempts int) time.Duration {
	b := d.Backoff
	if b <= 0 {
		b = time.Minute
	}
	for i := 1; i < attempts && b < RetryWindow; i++ {
		b *= 2
	}
	return b
}

func (d *HTTPSDeliverer) now() time.Time { return clockNow(d.Now) }

func (d *HTTPSDeliverer) sleep(ctx context.Context, wait time.Duration) error {
	return sleepWith(ctx, d.Sleep, wait)
}

// clockNow is now(), or time.Now() if now is nil.
func clockNow(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

// sleepWith waits with sleep, or with a timer if sleep is nil, for wait
// or until ctx is done.
func sleepWith(ctx context.Context, sleep func(context.Context, time.Duration) error, wait time.Duration) error {
	if sleep != nil {
		return sleep(ctx, wait)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (d *HTTPSDeliverer) client() *http.Client {
	if d.Client != nil {
		return d.Client
	}
	return &http.Client{
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
