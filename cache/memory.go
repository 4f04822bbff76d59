package cache

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/mtasts/mtasts/internal/lru"
)

// DefaultMemorySize is the default bound on the number of domains a
// Memory cache holds: well above the number of MTA-STS domains a large
// sender mails in a policy lifetime, at a few hundred bytes each.
const DefaultMemorySize = 100_000

// Memory is the in-process backend: policy entries and negative entries
// in two LRU maps, each bounded. It is also the memory layer of Layered.
// Nothing survives the process.
type Memory struct {
	now       func() time.Time
	policies  *lru.Cache[string, memEntry]
	negatives *lru.Cache[string, *Negative]

	extra     sync.Mutex // guards overrides and used (override.go)
	overrides map[string]*Override
	used      map[string]time.Time
}

// memEntry is a stored entry and when it was stored, which Layered uses to
// decide when to look at the shared backend again.
type memEntry struct {
	e      *Entry
	stored time.Time
}

// NewMemory returns a Memory cache holding at most size policy entries and
// size negative entries (DefaultMemorySize if size < 1), with the clock
// now (time.Now if nil).
func NewMemory(size int, now func() time.Time) *Memory {
	if size < 1 {
		size = DefaultMemorySize
	}
	if now == nil {
		now = time.Now
	}
	return &Memory{
		now:       now,
		policies:  lru.New[string, memEntry](size),
		negatives: lru.New[string, *Negative](size),
	}
}

// Get implements Cache. The entry returned is a copy; its Policy is shared.
func (m *Memory) Get(_ context.Context, domain string) (*Entry, error) {
	me, err := m.get(domain)
	if err != nil {
		return nil, err
	}
	c := *me.e
	return &c, nil
}

// View returns the entry of domain as stored, without copying it: the
// caller must not modify it. Unlike Get it does not check expiry (callers
// that read entries on every lookup check it against their own clock) and
// does not remove an expired entry.
func (m *Memory) View(_ context.Context, domain string) (*Entry, error) {
	me, ok := m.policies.Get(domain)
	if !ok {
		return nil, ErrNotFound
	}
	return me.e, nil
}

// get returns the unexpired entry of domain with its storage time.
func (m *Memory) get(domain string) (memEntry, error) {
	me, ok := m.policies.Get(domain)
	if !ok {
		return memEntry{}, ErrNotFound
	}
	if me.e.Expired(m.now()) {
		m.policies.Delete(domain)
		return memEntry{}, ErrNotFound
	}
	return me, nil
}

// Put implements Cache.
func (m *Memory) Put(_ context.Context, e *Entry) error {
	c, err := prepare(e)
	if err != nil {
		return err
	}
	m.put(c)
	return nil
}

// put stores a prepared entry.
func (m *Memory) put(e *Entry) {
	now := m.now()
	if e.Expired(now) {
		m.policies.Delete(e.Domain)
		return
	}
	m.policies.Put(e.Domain, memEntry{e: e, stored: now})
}

// Delete implements Cache.
func (m *Memory) Delete(_ context.Context, domain string) error {
	m.policies.Delete(domain)
	return nil
}

// GetNegative implements Cache.
func (m *Memory) GetNegative(_ context.Context, domain string) (*Negative, error) {
	n, ok := m.negatives.Get(domain)
	if !ok {
		return nil, ErrNotFound
	}
	if n.Expired(m.now()) {
		m.negatives.Delete(domain)
		return nil, ErrNotFound
	}
	c := *n
	return &c, nil
}

// PutNegative implements Cache.
func (m *Memory) PutNegative(_ context.Context, n *Negative) error {
	c, err := prepareNegative(n)
	if err != nil {
		return err
	}
	if c.Expired(m.now()) {
		m.negatives.Delete(c.Domain)
		return nil
	}
	m.negatives.Put(c.Domain, c)
	return nil
}

// DeleteNegative implements Cache.
func (m *Memory) DeleteNegative(_ context.Context, domain string) error {
	m.negatives.Delete(domain)
	return nil
}

// Due implements Cache. It scans every entry, which takes a few
// milliseconds for DefaultMemorySize entries.
func (m *Memory) Due(_ context.Context, before time.Time, limit int) ([]*Entry, error) {
	m.pruneUsed()
	now := m.now()
	due := m.policies.Values(func(me memEntry) bool {
		return !me.e.RefreshAt.IsZero() && !me.e.RefreshAt.After(before) && !me.e.Expired(now)
	})
	slices.SortFunc(due, func(a, b memEntry) int { return a.e.RefreshAt.Compare(b.e.RefreshAt) })
	due = due[:min(len(due), max(limit, 0))]
	out := make([]*Entry, len(due))
	for i, me := range due {
		c := *me.e
		out[i] = &c
	}
	return out, nil
}

// Len returns how many policy entries the cache holds, expired ones
// included until they are looked up.
func (m *Memory) Len() int { return m.policies.Len() }

// Close implements Cache; it does nothing.
func (m *Memory) Close() error { return nil }
