package enforce

import (
	"context"
	"sync"
	"time"
)

// lazyDeadline is a context that ends at a deadline, like
// context.WithDeadline, but arms no timer until something waits on Done.
// Lookups answered from the cache never wait, so they pay for neither the
// timer nor its allocations; only a lookup that waits for DNS or a fetch
// starts one. Err reports the deadline even when nobody waited.
type lazyDeadline struct {
	context.Context // the parent, for Value and its own cancellation
	deadline        time.Time

	mu   sync.Mutex
	done chan struct{} // made by the first Done
	err  error
	stop []func() bool // stop the timer and the parent watch
}

// withLazyDeadline returns a context ending at deadline or when parent
// ends, and the function that releases it (as a CancelFunc does).
func withLazyDeadline(parent context.Context, deadline time.Time) (context.Context, context.CancelFunc) {
	c := &lazyDeadline{Context: parent, deadline: deadline}
	return c, func() { c.end(context.Canceled) }
}

// Deadline implements context.Context.
func (c *lazyDeadline) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

// Done implements context.Context; the first call arms the timer.
func (c *lazyDeadline) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	c.done = make(chan struct{})
	if c.err != nil {
		close(c.done)
		return c.done
	}
	t := time.AfterFunc(time.Until(c.deadline), func() { c.end(context.DeadlineExceeded) })
	stopParent := context.AfterFunc(c.Context, func() { c.end(c.Context.Err()) })
	c.stop = []func() bool{t.Stop, stopParent}
	return c.done
}

// Err implements context.Context.
func (c *lazyDeadline) Err() error {
	if err := c.Context.Err(); err != nil {
		c.end(err)
	} else if !time.Now().Before(c.deadline) {
		c.end(context.DeadlineExceeded)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// end ends the context with err, unless it has ended already.
func (c *lazyDeadline) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
	for _, stop := range c.stop {
		stop()
	}
}
