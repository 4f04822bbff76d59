package cache

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestMemoryView checks that View returns the stored entry itself, the
// one Get copies, and leaves expiry to the caller.
func TestMemoryView(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	m := NewMemory(0, clock.Now)
	if _, err := m.View(ctx, "example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("View of a missing domain: %v, want ErrNotFound", err)
	}
	if err := m.Put(ctx, entry("example.com", "1", clock.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := m.Get(ctx, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	viewed, err := m.View(ctx, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if diff := entryDiff(got, viewed); diff != "" {
		t.Errorf("View differs from Get (-Get +View):\n%s", diff)
	}
	if again, _ := m.View(ctx, "example.com"); again != viewed {
		t.Error("View copied the entry")
	}
	clock.Advance(25 * time.Hour)
	if e, err := m.View(ctx, "example.com"); err != nil || !e.Expired(clock.Now()) {
		t.Errorf("View of an expired entry = %v, %v; want the entry", e, err)
	}
	if _, err := m.Get(ctx, "example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of an expired entry: %v, want ErrNotFound", err)
	}
}
