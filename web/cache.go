package web

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mtasts/mtasts/reportstore"
)

// The sums behind the overview and the domain pages take a scan of every
// report of the period; with a hundred thousand reports that is most of
// the time of a page. Reports arrive in daily batches and pages are looked
// at more often, so the results are kept until the store's Version says
// that reports were added or removed.

// Limits of the cache.
const (
	// cacheEntries bounds the results kept; the oldest go first.
	cacheEntries = 256
	// cacheMaxAge bounds how long a result is kept even if the store
	// seems unchanged.
	cacheMaxAge = 10 * time.Minute
)

// resultCache keeps query results for one Version of the store.
type resultCache struct {
	now func() time.Time
	// group runs one query for concurrent requests of the same result.
	group singleflight.Group

	mu      sync.Mutex
	version reportstore.Version
	entries map[string]cacheEntry
	order   []string // keys, oldest first
}

type cacheEntry struct {
	value  any
	stored time.Time
}

func newResultCache(now func() time.Time) *resultCache {
	return &resultCache{now: now, entries: map[string]cacheEntry{}}
}

// lookup returns the result kept for key at version v.
func (c *resultCache) lookup(v reportstore.Version, key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v != c.version {
		c.version, c.entries, c.order = v, map[string]cacheEntry{}, nil
		return nil, false
	}
	e, ok := c.entries[key]
	if !ok || c.now().Sub(e.stored) >= cacheMaxAge {
		return nil, false
	}
	return e.value, true
}

// store keeps value for key, if the cache is still at version v.
func (c *resultCache) store(v reportstore.Version, key string, value any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v != c.version {
		return
	}
	if _, ok := c.entries[key]; !ok {
		c.order = append(c.order, key)
	}
	c.entries[key] = cacheEntry{value: value, stored: c.now()}
	for len(c.order) > cacheEntries {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
}

// cached returns the result of query for key at version v of the store:
// kept from an earlier call, or computed now.
func cached[T any](c *resultCache, v reportstore.Version, key string, query func() (T, error)) (T, error) {
	if value, ok := c.lookup(v, key); ok {
		return value.(T), nil
	}
	value, err, _ := c.group.Do(fmt.Sprintf("%d/%d/%s", v.LastID, v.Count, key), func() (any, error) {
		value, err := query()
		if err == nil {
			c.store(v, key, value)
		}
		return value, err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return value.(T), nil
}
