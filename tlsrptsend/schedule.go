package tlsrptsend

import (
	"context"
	"errors"
	"time"
)

// Scheduler is the reporting schedule of a long-running process (the
// enforce daemon): every Interval it flushes Recorder to the store,
// builds and sends the reports of every past UTC day not yet built (the
// day just over once its random delay after midnight has passed, RFC
// 8460 §4.1), and makes the retries that are due (§5.5). Of several
// processes sharing a store, the one holding the lease does the work;
// the others wait their turn.
type Scheduler struct {
	Sender *Sender
	// Recorder, if set, is flushed before each look at the store, so
	// that a day's last outcomes are in its report.
	Recorder *StoreRecorder
	// Interval is how often the schedule looks; five minutes if zero.
	Interval time.Duration

	delays map[time.Time]time.Duration // per day, drawn once
}

// Run follows the schedule until ctx is done, and returns ctx's error.
// Failures of one round are logged and retried in the next.
func (sc *Scheduler) Run(ctx context.Context) error {
	interval := sc.Interval
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	for {
		if err := sc.Tick(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			sc.Sender.log().Error("TLS reports", "err", err)
		}
		if err := sc.Sender.sleep(ctx, interval); err != nil {
			return err
		}
	}
}

// Tick is one round of the schedule.
func (sc *Scheduler) Tick(ctx context.Context) error {
	s := sc.Sender
	var errs []error
	if sc.Recorder != nil {
		errs = append(errs, sc.Recorder.Flush(ctx))
	}
	now := s.now()
	today := Day(now)
	totals, err := s.Store.OutcomeTotals(ctx, time.Time{}, today)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if sc.delays == nil {
		sc.delays = map[time.Time]time.Duration{}
	}
	var days []time.Time // not built, in order
	for _, t := range totals {
		if !t.Built && (len(days) == 0 || !days[len(days)-1].Equal(t.Day)) {
			days = append(days, t.Day)
		}
	}
	for _, day := range days {
		if _, ok := sc.delays[day]; !ok {
			sc.delays[day] = s.delay()
		}
		if now.Before(ReadyAt(day, sc.delays[day])) {
			continue
		}
		_, err := s.SendDay(ctx, day, true)
		if errors.Is(err, ErrLeaseHeld) {
			return errors.Join(errs...)
		}
		errs = append(errs, err)
		if err == nil {
			delete(sc.delays, day)
		}
	}
	if _, err := s.DeliverDue(ctx); !errors.Is(err, ErrLeaseHeld) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
