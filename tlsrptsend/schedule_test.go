package tlsrptsend

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestScheduler: on a test clock from 23:00 of the day with outcomes,
// looking every 10 minutes, with a delay of 35 minutes after midnight
// (RFC 8460 §4.1), the schedule sends nothing before 00:35 and both
// reports at the first look after it, once; the https rua's retries
// follow (RFC 8460 §5.5).
func TestScheduler(t *testing.T) {
	sw := newSendWorld(t, "sqlite://"+filepath.Join(t.TempDir(), "reports.db"), 503)
	sw.clock.Advance(-90 * time.Minute) // 23:00 of sendDay
	s := sw.sender("daemon")
	s.Delay = func() time.Duration { return 35 * time.Minute }
	ctx, cancel := context.WithCancel(t.Context())
	type look struct {
		at           time.Time
		posts, mails int
	}
	var looks []look
	s.Sleep = func(ctx context.Context, d time.Duration) error {
		posts, _ := sw.rua.counts()
		looks = append(looks, look{sw.clock.Now(), posts, len(sw.mx.Messages())})
		if sw.clock.Now().After(sendDay.Add(26 * time.Hour)) {
			cancel()
			return ctx.Err()
		}
		sw.clock.Advance(d)
		return nil
	}
	sc := &Scheduler{Sender: s, Recorder: NewStoreRecorder(sw.store), Interval: 10 * time.Minute}
	if err := sc.Run(ctx); err != context.Canceled {
		t.Fatalf("Run = %v", err)
	}
	ready := sendDay.Add(24*time.Hour + 35*time.Minute)
	for _, l := range looks {
		switch {
		case l.at.Before(ready) && (l.posts != 0 || l.mails != 0):
			t.Errorf("at %s: %d posts, %d mails before the delay", l.at.Format(time.TimeOnly), l.posts, l.mails)
		case !l.at.Before(ready.Add(10*time.Minute)) && l.mails != 1:
			t.Errorf("at %s: %d mails, want 1", l.at.Format(time.TimeOnly), l.mails)
		}
	}
	if posts, accepted := sw.rua.counts(); posts != 2 || accepted != 1 {
		t.Errorf("%d posts, %d accepted; want 2 (one refused with 503, then retried) and 1", posts, accepted)
	}
}

// TestSendDayWaitsForDelay: without "now", SendDay waits for the delay
// after midnight (RFC 8460 §4.1) before sending; a day not over is
// refused.
func TestSendDayWaitsForDelay(t *testing.T) {
	sw := newSendWorld(t, "sqlite://"+filepath.Join(t.TempDir(), "reports.db"))
	sw.clock.Advance(-25 * time.Minute) // 00:05 the day after
	s := sw.sender("one")
	s.Delay = func() time.Duration { return 40 * time.Minute }
	var waited []time.Duration
	s.Sleep = func(_ context.Context, d time.Duration) error {
		if posts, _ := sw.rua.counts(); posts != 0 || len(sw.mx.Messages()) != 0 {
			t.Error("reports sent before the delay")
		}
		waited = append(waited, d)
		sw.clock.Advance(d)
		return nil
	}
	if _, err := s.SendDay(t.Context(), sendDay.Add(24*time.Hour), false); !errors.Is(err, ErrTooEarly) {
		t.Errorf("SendDay of today = %v, want ErrTooEarly", err)
	}
	res, err := s.SendDay(t.Context(), sendDay, false)
	if err != nil || !res.Built {
		t.Fatalf("SendDay = %+v, %v", res, err)
	}
	if len(waited) != 1 || waited[0] != 35*time.Minute {
		t.Errorf("waited %v, want [35m]", waited)
	}
}
