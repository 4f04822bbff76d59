// Package connlimit counts the connections a server has open, in all and
// per client, and refuses those beyond its limits, so that a flood from
// one client cannot take the connections others need.
package connlimit

import "sync"

// Reasons of a refusal, used as metric labels.
const (
	Total     = "total"  // the limit of connections in all
	PerClient = "per_ip" // the limit of one client's connections
)

// Counter counts open connections by client key K. The zero value is
// not usable; make one with New.
type Counter[K comparable] struct {
	max, perClient int

	mu   sync.Mutex
	open int
	per  map[K]int
}

// New returns a Counter that admits at most max connections in all and
// perClient per client; 0 means no limit.
func New[K comparable](max, perClient int) *Counter[K] {
	return &Counter[K]{max: max, perClient: perClient, per: map[K]int{}}
}

// Acquire counts a connection of client, or returns the reason (Total or
// PerClient) it is refused and counts nothing.
func (c *Counter[K]) Acquire(client K) (refused string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.max > 0 && c.open >= c.max:
		return Total
	case c.perClient > 0 && c.per[client] >= c.perClient:
		return PerClient
	}
	c.open++
	c.per[client]++
	return ""
}

// Release uncounts a connection of client that Acquire admitted.
func (c *Counter[K]) Release(client K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open--
	if n := c.per[client] - 1; n > 0 {
		c.per[client] = n
	} else {
		delete(c.per, client)
	}
}

// Open returns the connections counted, in all and of client.
func (c *Counter[K]) Open(client K) (all, ofClient int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open, c.per[client]
}
