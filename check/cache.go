package check

import (
	"context"
	"sync"

	"github.com/mtasts/mtasts/internal/lru"
)

// hostCache keeps the reports of the most recently checked MX hosts, so
// that domains sharing MX hosts (most domains of a mail provider) cause
// one probe per host, not one per domain. Concurrent requests for one host
// wait for a single computation.
type hostCache struct {
	reports *lru.Cache[string, *hostReport] // nil: no caching

	mu       sync.Mutex
	inflight map[string]chan struct{} // closed when the report is ready
}

// newHostCache returns a cache of size reports; a size below 1 caches
// nothing.
func newHostCache(size int) *hostCache {
	hc := &hostCache{inflight: map[string]chan struct{}{}}
	if size >= 1 {
		hc.reports = lru.New[string, *hostReport](size)
	}
	return hc
}

// get returns the report of host, computing it with compute unless it is
// cached or being computed. A report computed while ctx ended is not
// kept, nor one with a resolver timeout, so that a check again asks again.
func (hc *hostCache) get(ctx context.Context, host string, compute func() *hostReport) *hostReport {
	if hc.reports == nil {
		return compute()
	}
	hc.mu.Lock()
	if rep, ok := hc.reports.Get(host); ok {
		hc.mu.Unlock()
		return rep
	}
	if wait, ok := hc.inflight[host]; ok {
		hc.mu.Unlock()
		select {
		case <-wait:
			if rep, ok := hc.reports.Get(host); ok {
				return rep
			}
		case <-ctx.Done():
		}
		return compute()
	}
	done := make(chan struct{})
	hc.inflight[host] = done
	hc.mu.Unlock()

	rep := compute()
	hc.mu.Lock()
	if ctx.Err() == nil && !rep.timedOut() {
		hc.reports.Put(host, rep)
	}
	delete(hc.inflight, host)
	hc.mu.Unlock()
	close(done)
	return rep
}
