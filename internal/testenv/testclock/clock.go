// Package testclock is a clock for tests that moves only when told to, for
// code that takes its time from an injected "now func() time.Time".
package testclock

import (
	"sync"
	"time"
)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a Clock that reads start. Tests that also talk to servers
// with their own clocks (Redis expiry, certificate validity) start it at
// time.Now().
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time; pass it as the code's clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
