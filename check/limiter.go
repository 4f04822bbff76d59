package check

import (
	"context"
	"sync"
)

// limiter bounds how many domains CheckAll checks at once, adapting the
// bound as TCP does its congestion window (additive increase,
// multiplicative decrease): a check whose DNS lookups timed out halves
// it, down to 1; each run of limit checks without a timeout raises it by
// one, up to max. A resolver that drops queries under load is thus given
// the load it can bear, instead of turning a large share of the domains
// into timeouts.
type limiter struct {
	mu     sync.Mutex
	cond   *sync.Cond
	limit  int // checks allowed at once now
	max    int
	active int
	// clean counts checks without a timeout since limit last changed;
	// sinceCut counts checks ended since the last decrease, and inFlight
	// those that were running then: their timeouts are of the load
	// before it, and do not decrease limit again.
	clean, sinceCut, inFlight int
	onChange                  func(limit int) // called with mu held; may be nil
}

func newLimiter(max int, onChange func(int)) *limiter {
	l := &limiter{limit: max, max: max, onChange: onChange}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// acquire waits until fewer than limit checks run, or ctx ends.
func (l *limiter) acquire(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.cond.Broadcast()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.active >= l.limit {
		if err := ctx.Err(); err != nil {
			return err
		}
		l.cond.Wait()
	}
	l.active++
	return nil
}

// release ends a check; timedOut says whether its DNS lookups timed out.
// Timeouts of checks that ran together count as one congestion event.
func (l *limiter) release(timedOut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.active--
	l.sinceCut++
	prev := l.limit
	switch {
	case timedOut && l.sinceCut > l.inFlight:
		l.limit, l.clean, l.sinceCut, l.inFlight = max(1, prev/2), 0, 0, l.active
	case timedOut:
		l.clean = 0
	default:
		if l.clean++; l.clean >= l.limit && l.limit < l.max {
			l.limit, l.clean = l.limit+1, 0
		}
	}
	if l.limit != prev && l.onChange != nil {
		l.onChange(l.limit)
	}
	l.cond.Broadcast()
}
