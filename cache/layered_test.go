package cache

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// counting is a shared backend that counts its calls and can fail.
type counting struct {
	Cache
	calls atomic.Int32
	fail  atomic.Bool
}

var errBackend = errors.New("backend down")

func (c *counting) Get(ctx context.Context, d string) (*Entry, error) {
	c.calls.Add(1)
	if c.fail.Load() {
		return nil, errBackend
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.Cache.Get(ctx, d)
}

func (c *counting) Put(ctx context.Context, e *Entry) error {
	c.calls.Add(1)
	if c.fail.Load() {
		return errBackend
	}
	return c.Cache.Put(ctx, e)
}

func (c *counting) Due(ctx context.Context, before time.Time, limit int) ([]*Entry, error) {
	c.calls.Add(1)
	if c.fail.Load() {
		return nil, errBackend
	}
	return c.Cache.Due(ctx, before, limit)
}

func newLayered(t *testing.T) (*Layered, *counting, *Memory) {
	t.Helper()
	clk := newClock()
	mem := NewMemory(0, clk.Now)
	shared := &counting{Cache: NewMemory(0, clk.Now)}
	return NewLayered(mem, shared, LayerOptions{Now: clk.Now}), shared, mem
}

// Most domains have no policy: their absence is remembered for the sync
// interval instead of costing a round trip per message.
func TestLayeredRemembersMisses(t *testing.T) {
	ctx := context.Background()
	l, shared, _ := newLayered(t)
	for range 3 {
		if _, err := l.Get(ctx, "none.example"); !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}
	if n := shared.calls.Load(); n != 1 {
		t.Errorf("%d shared calls for three lookups, want 1", n)
	}
	_ = l.Put(ctx, entry("none.example", "1", l.now(), time.Hour))
	if _, err := l.Get(ctx, "none.example"); err != nil {
		t.Errorf("after Put: %v", err)
	}
}

// The memory layer never gives up a policy because the shared backend
// fails, lost it or holds an older copy.
func TestLayeredNeverLessStrict(t *testing.T) {
	ctx := context.Background()
	l, shared, _ := newLayered(t)
	now := l.now()
	older := entry("example.com", "1", now, time.Hour)
	newer := entry("example.com", "2", now.Add(time.Second), time.Hour)
	_ = shared.Cache.Put(ctx, older)
	_ = l.mem.Put(ctx, newer)
	l.mem.policies.Put("example.com", memEntry{e: l.mem.mustGet(t, "example.com"), stored: now.Add(-time.Hour)})
	if e, err := l.Get(ctx, "example.com"); err != nil || e.ID != "2" {
		t.Errorf("shared holds an older copy: Get = %+v, %v; want the newer one from memory", e, err)
	}

	_ = shared.Cache.Delete(ctx, "example.com")
	l.mem.policies.Put("example.com", memEntry{e: l.mem.mustGet(t, "example.com"), stored: now.Add(-time.Hour)})
	if e, err := l.Get(ctx, "example.com"); err != nil || e.ID != "2" {
		t.Errorf("shared lost it: Get = %+v, %v; want the copy in memory", e, err)
	}

	shared.fail.Store(true)
	if err := l.Put(ctx, entry("other.example", "1", now, time.Hour)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Put with the backend down = %v, want ErrUnavailable", err)
	}
	calls := shared.calls.Load()
	if e, err := l.Get(ctx, "other.example"); err != nil || e.ID != "1" {
		t.Errorf("Get from memory with the backend down = %+v, %v", e, err)
	}
	if _, err := l.Get(ctx, "unknown.example"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get of an unknown domain with the backend down = %v, want ErrUnavailable, not ErrNotFound", err)
	}
	if n := shared.calls.Load(); n != calls {
		t.Errorf("%d calls to a backend known to be down", n-calls)
	}
	due, err := l.Due(ctx, now.Add(2*time.Hour), 10)
	if !errors.Is(err, ErrUnavailable) || len(due) != 2 {
		t.Errorf("Due with the backend down = %d entries, %v; want memory's 2 and ErrUnavailable", len(due), err)
	}
}

// mustGet returns the stored entry of domain.
func (m *Memory) mustGet(t *testing.T, domain string) *Entry {
	t.Helper()
	me, err := m.get(domain)
	if err != nil {
		t.Fatal(err)
	}
	return me.e
}

// A caller that gives up does not make the shared backend count as down.
func TestLayeredCallerCancelIsNotOutage(t *testing.T) {
	l, shared, _ := newLayered(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Get(ctx, "example.com"); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("Get with a canceled context = %v", err)
	}
	if _, err := l.Get(context.Background(), "example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("next Get = %v, want ErrNotFound from the shared backend", err)
	}
	if n := shared.calls.Load(); n != 2 {
		t.Errorf("%d shared calls, want 2", n)
	}
}

// View answers from memory without copying while the copy there is recent,
// and, like Get, asks the shared backend once it is older than
// SyncInterval, so that what other processes stored is picked up.
func TestLayeredView(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	mem := NewMemory(0, clk.Now)
	shared := &counting{Cache: NewMemory(0, clk.Now)}
	l := NewLayered(mem, shared, LayerOptions{Now: clk.Now, SyncInterval: time.Minute})

	if _, err := l.View(ctx, "example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("View of a missing domain: %v, want ErrNotFound", err)
	}
	if err := l.Put(ctx, entry("example.com", "1", clk.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	calls := shared.calls.Load()
	first, err := l.View(ctx, "example.com")
	if err != nil || first.ID != "1" {
		t.Fatalf("View = %+v, %v; want id 1", first, err)
	}
	if again, _ := l.View(ctx, "example.com"); again != first {
		t.Error("View copied the entry")
	}
	if n := shared.calls.Load() - calls; n != 0 {
		t.Errorf("View of a recent copy made %d shared calls, want 0", n)
	}

	// Another process stores a new policy in the shared backend.
	if err := shared.Cache.Put(ctx, entry("example.com", "2", clk.Now().Add(time.Second), time.Hour)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second)
	if e, _ := l.View(ctx, "example.com"); e.ID != "1" {
		t.Errorf("within SyncInterval: View = id %s, want memory's 1", e.ID)
	}
	clk.Advance(31 * time.Second)
	e, err := l.View(ctx, "example.com")
	if err != nil || e.ID != "2" {
		t.Errorf("after SyncInterval: View = %+v, %v; want the shared id 2", e, err)
	}
	if n := shared.calls.Load() - calls; n != 1 {
		t.Errorf("%d shared calls, want 1", n)
	}
}
