package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/mtasts/mtasts/internal/lru"
)

// Defaults of LayerOptions.
const (
	DefaultSyncInterval  = 30 * time.Second
	DefaultSharedRetry   = 5 * time.Second
	DefaultSharedTimeout = 2 * time.Second
)

// LayerOptions tune a Layered cache.
type LayerOptions struct {
	// Now is the clock; nil means time.Now. Give the Memory the same one.
	Now func() time.Time
	// SyncInterval is how long an entry read or written through the
	// layer, or the absence of one, is answered from memory before the
	// shared backend is asked again, to pick up what other processes
	// stored; 0 means DefaultSyncInterval.
	SyncInterval time.Duration
	// SharedRetry is how long the shared backend is left alone after it
	// failed, so that an outage costs no time per lookup; 0 means
	// DefaultSharedRetry.
	SharedRetry time.Duration
	// SharedTimeout bounds each call to the shared backend, which sits in
	// the path of mail; 0 means DefaultSharedTimeout.
	SharedTimeout time.Duration
}

// Layered is a shared backend (Redis, PostgreSQL, SQLite) behind an
// in-process Memory. Reads are answered from memory when it holds a recent
// copy, else from the shared backend, whose answer is kept in memory.
// Writes go to memory first, then to the shared backend.
//
// When the shared backend fails, the layer keeps working from memory and
// returns errors wrapping ErrUnavailable: a write error after the memory
// write succeeded, a read error only when memory holds nothing for the
// domain. A policy in memory is never dropped because the shared backend
// failed, lost it or holds an older copy, so a sender using the layer never
// answers less strictly than the policy it cached. After a failure the
// shared backend is not asked again for SharedRetry.
type Layered struct {
	mem       *Memory
	shared    Cache
	now       func() time.Time
	sync      time.Duration
	retry     time.Duration
	timeout   time.Duration
	downUntil atomic.Int64 // UnixNano before which shared is not asked
	// misses remembers, for SyncInterval, the domains the shared backend
	// has no policy for: most domains have none, and asking for every
	// message would cost a round trip each.
	misses *lru.Cache[string, time.Time]
}

// NewLayered returns mem in front of shared.
func NewLayered(mem *Memory, shared Cache, o LayerOptions) *Layered {
	l := &Layered{mem: mem, shared: shared, now: o.Now, sync: o.SyncInterval, retry: o.SharedRetry, timeout: o.SharedTimeout,
		misses: lru.New[string, time.Time](mem.policies.Max())}
	if l.now == nil {
		l.now = time.Now
	}
	if l.sync <= 0 {
		l.sync = DefaultSyncInterval
	}
	if l.retry <= 0 {
		l.retry = DefaultSharedRetry
	}
	if l.timeout <= 0 {
		l.timeout = DefaultSharedTimeout
	}
	return l
}

// Shared returns the shared backend.
func (l *Layered) Shared() Cache { return l.shared }

// down reports whether the shared backend failed less than SharedRetry ago.
func (l *Layered) down() bool { return l.now().UnixNano() < l.downUntil.Load() }

// Get implements Cache.
func (l *Layered) Get(ctx context.Context, domain string) (*Entry, error) {
	me, memErr := l.mem.get(domain)
	inMem := memErr == nil
	if inMem && l.now().Sub(me.stored) < l.sync {
		return l.mem.Get(ctx, domain)
	}
	if !inMem {
		if at, ok := l.misses.Get(domain); ok && l.now().Sub(at) < l.sync {
			return nil, ErrNotFound
		}
	}
	var e *Entry
	err := l.call(ctx, "get", func(ctx context.Context) (err error) {
		e, err = l.shared.Get(ctx, domain)
		return err
	})
	switch {
	case err == nil:
		if inMem && newer(me.e, e) {
			e = me.e // the shared copy is older: a write to it failed
		}
		l.mem.put(e)
		return l.mem.Get(ctx, domain)
	case errors.Is(err, ErrNotFound) && inMem:
		l.mem.put(me.e) // keep ours, and ask again after SyncInterval
		return l.mem.Get(ctx, domain)
	case errors.Is(err, ErrNotFound):
		l.misses.Put(domain, l.now())
		return nil, ErrNotFound
	case inMem:
		return l.mem.Get(ctx, domain)
	default:
		return nil, err
	}
}

// View is Get without the copy, for callers that only read: when memory
// holds a copy read or written within SyncInterval, it returns that
// stored entry itself, which the caller must not modify, and does not
// check its expiry (see Memory.View); otherwise it is Get.
func (l *Layered) View(ctx context.Context, domain string) (*Entry, error) {
	if me, ok := l.mem.policies.Get(domain); ok && l.now().Sub(me.stored) < l.sync {
		return me.e, nil
	}
	return l.Get(ctx, domain)
}

// newer reports whether a is a more recent version of an entry than b.
func newer(a, b *Entry) bool {
	if c := a.Fetched.Compare(b.Fetched); c != 0 {
		return c > 0
	}
	return a.Checked.After(b.Checked)
}

// call runs op on the shared backend, within SharedTimeout, unless the
// backend is down. Errors other than ErrNotFound mark the backend down
// and wrap ErrUnavailable.
func (l *Layered) call(ctx context.Context, name string, op func(context.Context) error) error {
	if l.down() {
		return fmt.Errorf("%w: %s skipped after a recent failure", ErrUnavailable, name)
	}
	opCtx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	err := op(opCtx)
	if err == nil || errors.Is(err, ErrNotFound) {
		return err
	}
	if ctx.Err() == nil { // the caller giving up is not the backend's fault
		l.downUntil.Store(l.now().Add(l.retry).UnixNano())
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, name, err)
}

// Put implements Cache.
func (l *Layered) Put(ctx context.Context, e *Entry) error {
	c, err := prepare(e)
	if err != nil {
		return err
	}
	l.mem.put(c)
	l.misses.Delete(c.Domain)
	return l.call(ctx, "put", func(ctx context.Context) error { return l.shared.Put(ctx, c) })
}

// Delete implements Cache.
func (l *Layered) Delete(ctx context.Context, domain string) error {
	_ = l.mem.Delete(ctx, domain)
	return l.call(ctx, "delete", func(ctx context.Context) error { return l.shared.Delete(ctx, domain) })
}

// GetNegative implements Cache. Negative entries are answered from
// memory when it holds one, else from the shared backend.
func (l *Layered) GetNegative(ctx context.Context, domain string) (*Negative, error) {
	if n, err := l.mem.GetNegative(ctx, domain); err == nil {
		return n, nil
	}
	var n *Negative
	err := l.call(ctx, "get negative", func(ctx context.Context) (err error) {
		n, err = l.shared.GetNegative(ctx, domain)
		return err
	})
	if err != nil {
		return nil, err
	}
	_ = l.mem.PutNegative(ctx, n)
	return n, nil
}

// PutNegative implements Cache.
func (l *Layered) PutNegative(ctx context.Context, n *Negative) error {
	if err := l.mem.PutNegative(ctx, n); err != nil {
		return err
	}
	return l.call(ctx, "put negative", func(ctx context.Context) error { return l.shared.PutNegative(ctx, n) })
}

// DeleteNegative implements Cache.
func (l *Layered) DeleteNegative(ctx context.Context, domain string) error {
	_ = l.mem.DeleteNegative(ctx, domain)
	return l.call(ctx, "delete negative", func(ctx context.Context) error { return l.shared.DeleteNegative(ctx, domain) })
}

// Due implements Cache: the due entries of both layers, the newer copy of
// each domain. When the shared backend fails, it returns the entries due
// in memory together with an error wrapping ErrUnavailable.
func (l *Layered) Due(ctx context.Context, before time.Time, limit int) ([]*Entry, error) {
	mem, _ := l.mem.Due(ctx, before, limit)
	var shared []*Entry
	err := l.call(ctx, "due", func(ctx context.Context) (err error) {
		shared, err = l.shared.Due(ctx, before, limit)
		return err
	})
	byDomain := make(map[string]*Entry, len(mem)+len(shared))
	for _, e := range slices.Concat(shared, mem) {
		if old, ok := byDomain[e.Domain]; !ok || newer(e, old) {
			byDomain[e.Domain] = e
		}
	}
	out := make([]*Entry, 0, len(byDomain))
	for _, e := range byDomain {
		if !e.RefreshAt.After(before) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *Entry) int { return a.RefreshAt.Compare(b.RefreshAt) })
	return out[:min(len(out), max(limit, 0))], err
}

// Close implements Cache: it closes the shared backend.
func (l *Layered) Close() error { return l.shared.Close() }
