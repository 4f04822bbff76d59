package cache

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mtasts/mtasts/sts"
)

// Override is an operator's decision for one policy domain that takes the
// place of its MTA-STS policy until it expires: deliver as in mode
// testing while the domain's MX hosts are broken, as if it had no policy,
// or enforce a cached testing policy. It is kept with the cache, so that
// every MTA sharing the cache applies it. The meaning of each mode for a
// sender is package resolver's (see resolver.Decision.Override).
type Override struct {
	// Domain is the policy domain, normalized.
	Domain string
	// Mode is what the domain's policy is taken to say.
	Mode sts.Mode
	// Reason says why, for people.
	Reason string
	// Actor is who set it: the OS user or what they named.
	Actor string
	// Created is when it was set; Expires when it stops applying.
	Created, Expires time.Time
}

// Expired reports whether the override no longer applies at now.
func (o *Override) Expired(now time.Time) bool { return !now.Before(o.Expires) }

// OverrideStore keeps overrides. Every cache that Open and NewMemory
// return implements it; a Layered cache keeps them in its shared backend
// only, so that all processes see the same ones.
type OverrideStore interface {
	// PutOverride stores o, replacing the override of o.Domain.
	PutOverride(ctx context.Context, o *Override) error
	// DeleteOverride removes the override of domain; ErrNotFound if there
	// is none in force.
	DeleteOverride(ctx context.Context, domain string) error
	// Overrides returns the overrides in force, by domain. It may purge
	// expired ones.
	Overrides(ctx context.Context) ([]*Override, error)
}

// Lister lists and purges policy entries. Every cache that Open and
// NewMemory return implements it.
type Lister interface {
	// List returns the unexpired policy entries, by domain.
	List(ctx context.Context) ([]*Entry, error)
	// Purge removes every policy entry and negative entry (not the
	// overrides) and returns how many policy entries it removed.
	Purge(ctx context.Context) (int, error)
}

// UsageStore remembers when each domain was last looked up, so that
// only the policies in use are refreshed (see resolver.Config). Every
// cache that Open and NewMemory return implements it; a Layered cache
// keeps the times in its shared backend only, so that a policy one MTA
// uses is not dropped by another.
type UsageStore interface {
	// MarkUsed records that domain was looked up at t, unless a later
	// time is recorded.
	MarkUsed(ctx context.Context, domain string, t time.Time) error
	// LastUsed returns the recorded times of those of domains that have
	// one.
	LastUsed(ctx context.Context, domains []string) (map[string]time.Time, error)
	// ForgetUsed removes the record of domain.
	ForgetUsed(ctx context.Context, domain string) error
}

// ValidateOverride checks o and returns a copy ready to store: the domain
// normalized, a mode of RFC 8461 §5, times in UTC, and an expiry after
// the creation.
func ValidateOverride(o *Override) (*Override, error) {
	c := *o
	d, err := sts.NormalizeDomain(o.Domain)
	if err != nil {
		return nil, fmt.Errorf("cache: override: %w", err)
	}
	c.Domain = d
	switch c.Mode {
	case sts.ModeEnforce, sts.ModeTesting, sts.ModeNone:
	default:
		return nil, fmt.Errorf("cache: override of %s: mode %q: want enforce, testing or none", d, c.Mode)
	}
	if !c.Expires.After(c.Created) {
		return nil, fmt.Errorf("cache: override of %s: expires %v, not after its creation", d, c.Expires)
	}
	c.Created, c.Expires = utc(c.Created), utc(c.Expires)
	return &c, nil
}

// sortOverrides sorts by domain and returns os.
func sortOverrides(os []*Override) []*Override {
	slices.SortFunc(os, func(a, b *Override) int { return strings.Compare(a.Domain, b.Domain) })
	return os
}

// sortEntries sorts by domain and returns es.
func sortEntries(es []*Entry) []*Entry {
	slices.SortFunc(es, func(a, b *Entry) int { return strings.Compare(a.Domain, b.Domain) })
	return es
}

// PutOverride implements OverrideStore.
func (m *Memory) PutOverride(_ context.Context, o *Override) error {
	c, err := ValidateOverride(o)
	if err != nil {
		return err
	}
	m.extra.Lock()
	defer m.extra.Unlock()
	if m.overrides == nil {
		m.overrides = map[string]*Override{}
	}
	m.overrides[c.Domain] = c
	return nil
}

// DeleteOverride implements OverrideStore.
func (m *Memory) DeleteOverride(_ context.Context, domain string) error {
	m.extra.Lock()
	defer m.extra.Unlock()
	o, ok := m.overrides[domain]
	delete(m.overrides, domain)
	if !ok || o.Expired(m.now()) {
		return ErrNotFound
	}
	return nil
}

// pruneUsed forgets the uses of domains without a policy entry, as the
// other backends do in Due.
func (m *Memory) pruneUsed() {
	cached := map[string]bool{}
	m.policies.Values(func(me memEntry) bool {
		cached[me.e.Domain] = true
		return false
	})
	m.extra.Lock()
	defer m.extra.Unlock()
	maps.DeleteFunc(m.used, func(d string, _ time.Time) bool { return !cached[d] })
}

// Overrides implements OverrideStore.
func (m *Memory) Overrides(context.Context) ([]*Override, error) {
	m.extra.Lock()
	defer m.extra.Unlock()
	now := m.now()
	maps.DeleteFunc(m.overrides, func(_ string, o *Override) bool { return o.Expired(now) })
	out := make([]*Override, 0, len(m.overrides))
	for _, o := range m.overrides {
		c := *o
		out = append(out, &c)
	}
	return sortOverrides(out), nil
}

// MarkUsed implements UsageStore.
func (m *Memory) MarkUsed(_ context.Context, domain string, t time.Time) error {
	m.extra.Lock()
	defer m.extra.Unlock()
	if m.used == nil {
		m.used = map[string]time.Time{}
	}
	if t.After(m.used[domain]) {
		m.used[domain] = utc(t)
	}
	return nil
}

// LastUsed implements UsageStore.
func (m *Memory) LastUsed(_ context.Context, domains []string) (map[string]time.Time, error) {
	m.extra.Lock()
	defer m.extra.Unlock()
	out := make(map[string]time.Time, len(domains))
	for _, d := range domains {
		if t, ok := m.used[d]; ok {
			out[d] = t
		}
	}
	return out, nil
}

// ForgetUsed implements UsageStore.
func (m *Memory) ForgetUsed(_ context.Context, domain string) error {
	m.extra.Lock()
	defer m.extra.Unlock()
	delete(m.used, domain)
	return nil
}

// List implements Lister.
func (m *Memory) List(context.Context) ([]*Entry, error) {
	now := m.now()
	live := m.policies.Values(func(me memEntry) bool { return !me.e.Expired(now) })
	out := make([]*Entry, len(live))
	for i, me := range live {
		c := *me.e
		out[i] = &c
	}
	return sortEntries(out), nil
}

// Purge implements Lister.
func (m *Memory) Purge(context.Context) (int, error) {
	now := m.now()
	n := 0
	for _, me := range m.policies.Values(func(memEntry) bool { return true }) {
		if !me.e.Expired(now) {
			n++
		}
		m.policies.Delete(me.e.Domain)
	}
	for _, neg := range m.negatives.Values(func(*Negative) bool { return true }) {
		m.negatives.Delete(neg.Domain)
	}
	return n, nil
}

// PutOverride implements OverrideStore: the override goes to the shared
// backend only.
func (l *Layered) PutOverride(ctx context.Context, o *Override) error {
	s, err := sharedAs[OverrideStore](l)
	if err != nil {
		return err
	}
	return l.call(ctx, "put override", func(ctx context.Context) error { return s.PutOverride(ctx, o) })
}

// DeleteOverride implements OverrideStore.
func (l *Layered) DeleteOverride(ctx context.Context, domain string) error {
	s, err := sharedAs[OverrideStore](l)
	if err != nil {
		return err
	}
	return l.call(ctx, "delete override", func(ctx context.Context) error { return s.DeleteOverride(ctx, domain) })
}

// Overrides implements OverrideStore.
func (l *Layered) Overrides(ctx context.Context) (out []*Override, err error) {
	s, err := sharedAs[OverrideStore](l)
	if err != nil {
		return nil, err
	}
	err = l.call(ctx, "overrides", func(ctx context.Context) (err error) {
		out, err = s.Overrides(ctx)
		return err
	})
	return out, err
}

// MarkUsed implements UsageStore.
func (l *Layered) MarkUsed(ctx context.Context, domain string, t time.Time) error {
	s, err := sharedAs[UsageStore](l)
	if err != nil {
		return err
	}
	return l.call(ctx, "mark used", func(ctx context.Context) error { return s.MarkUsed(ctx, domain, t) })
}

// LastUsed implements UsageStore.
func (l *Layered) LastUsed(ctx context.Context, domains []string) (out map[string]time.Time, err error) {
	s, err := sharedAs[UsageStore](l)
	if err != nil {
		return nil, err
	}
	err = l.call(ctx, "last used", func(ctx context.Context) (err error) {
		out, err = s.LastUsed(ctx, domains)
		return err
	})
	return out, err
}

// ForgetUsed implements UsageStore.
func (l *Layered) ForgetUsed(ctx context.Context, domain string) error {
	s, err := sharedAs[UsageStore](l)
	if err != nil {
		return err
	}
	return l.call(ctx, "forget used", func(ctx context.Context) error { return s.ForgetUsed(ctx, domain) })
}

// List implements Lister: the entries of the shared backend, or the
// newer copy in memory.
func (l *Layered) List(ctx context.Context) ([]*Entry, error) {
	s, err := sharedAs[Lister](l)
	if err != nil {
		return nil, err
	}
	var shared []*Entry
	if err := l.call(ctx, "list", func(ctx context.Context) (err error) {
		shared, err = s.List(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	mem, _ := l.mem.List(ctx)
	byDomain := make(map[string]*Entry, len(shared)+len(mem))
	for _, e := range slices.Concat(shared, mem) {
		if old, ok := byDomain[e.Domain]; !ok || newer(e, old) {
			byDomain[e.Domain] = e
		}
	}
	return sortEntries(slices.Collect(maps.Values(byDomain))), nil
}

// Purge implements Lister: memory and the shared backend. Other processes
// keep the copies in their own memory (see Layered).
func (l *Layered) Purge(ctx context.Context) (n int, err error) {
	s, err := sharedAs[Lister](l)
	if err != nil {
		return 0, err
	}
	_, _ = l.mem.Purge(ctx)
	err = l.call(ctx, "purge", func(ctx context.Context) (err error) {
		n, err = s.Purge(ctx)
		return err
	})
	return n, err
}

// sharedAs returns the shared backend of l as a T.
func sharedAs[T any](l *Layered) (T, error) {
	s, ok := l.shared.(T)
	if !ok {
		return s, fmt.Errorf("cache: the shared backend %T cannot do this", l.shared)
	}
	return s, nil
}
