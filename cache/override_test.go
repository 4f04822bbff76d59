package cache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/sts"
)

// runOperatorSuite runs what every cache Open returns must do for the
// operator: overrides that expire on the cache's clock, listing and
// purging entries, and usage records.
func runOperatorSuite(t *testing.T, open opener) {
	ctx := context.Background()
	setup := func(t *testing.T) (Cache, *Override, *testclock.Clock) {
		clk := newClock()
		c := open(t, clk.Now)
		t.Cleanup(func() { c.Close() })
		o := &Override{Domain: "Example.COM.", Mode: sts.ModeTesting, Reason: "MX certificate expired", Actor: "alice",
			Created: clk.Now(), Expires: clk.Now().Add(48 * time.Hour)}
		return c, o, clk
	}

	t.Run("Overrides", func(t *testing.T) {
		c, o, clk := setup(t)
		s := c.(OverrideStore)
		if got, err := s.Overrides(ctx); err != nil || len(got) != 0 {
			t.Fatalf("Overrides of an empty cache = %v, %v", got, err)
		}
		if err := s.PutOverride(ctx, o); err != nil {
			t.Fatal(err)
		}
		other := *o
		other.Domain, other.Mode = "a.example", sts.ModeNone
		if err := s.PutOverride(ctx, &other); err != nil {
			t.Fatal(err)
		}
		got, err := s.Overrides(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []*Override{&other, {Domain: "example.com", Mode: sts.ModeTesting, Reason: o.Reason, Actor: "alice", Created: o.Created, Expires: o.Expires}}
		if d := cmp.Diff(want, got, cmpopts.EquateApproxTime(0)); d != "" {
			t.Errorf("Overrides (-want +got):\n%s", d)
		}
		// A second put replaces.
		repl := *o
		repl.Mode, repl.Expires = sts.ModeEnforce, clk.Now().Add(time.Hour)
		if err := s.PutOverride(ctx, &repl); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Overrides(ctx); len(got) != 2 || got[1].Mode != sts.ModeEnforce {
			t.Errorf("after replacing: %v", got)
		}
		// Gone at expiry, by the cache's clock.
		clk.Advance(time.Hour - time.Millisecond)
		if got, _ := s.Overrides(ctx); len(got) != 2 {
			t.Errorf("a millisecond before expiry: %d overrides, want 2", len(got))
		}
		clk.Advance(time.Millisecond)
		if got, _ := s.Overrides(ctx); len(got) != 1 || got[0].Domain != "a.example" {
			t.Errorf("at expiry: %v, want a.example only", got)
		}
		if err := s.DeleteOverride(ctx, "example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeleteOverride of an expired override = %v, want ErrNotFound", err)
		}
		if err := s.DeleteOverride(ctx, "a.example"); err != nil {
			t.Errorf("DeleteOverride: %v", err)
		}
		if got, _ := s.Overrides(ctx); len(got) != 0 {
			t.Errorf("after DeleteOverride: %v", got)
		}
	})

	t.Run("InvalidOverride", func(t *testing.T) {
		c, o, _ := setup(t)
		for _, change := range []func(*Override){
			func(o *Override) { o.Mode = "off" },
			func(o *Override) { o.Domain = "not a domain" },
			func(o *Override) { o.Expires = o.Created },
		} {
			bad := *o
			change(&bad)
			if err := c.(OverrideStore).PutOverride(ctx, &bad); err == nil {
				t.Errorf("PutOverride(%+v) succeeded", bad)
			}
		}
	})

	t.Run("ListPurge", func(t *testing.T) {
		c, o, clk := setup(t)
		l := c.(Lister)
		for _, d := range []string{"b.example", "a.example"} {
			if err := c.Put(ctx, entry(d, "1", clk.Now(), time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		short := entry("short.example", "1", clk.Now(), 0)
		short.Expires = clk.Now().Add(time.Minute)
		_ = c.Put(ctx, short)
		_ = c.PutNegative(ctx, &Negative{Domain: "none.example", Kind: NoRecord, Created: clk.Now(), Expires: clk.Now().Add(time.Hour)})
		_ = c.(OverrideStore).PutOverride(ctx, o)
		clk.Advance(time.Minute)
		got, err := l.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]string{"a.example", "b.example"}, domains(got)); d != "" {
			t.Errorf("List (-want +got):\n%s", d)
		}
		if len(got) > 0 && got[0].Policy == nil {
			t.Error("List returned an entry without its parsed policy")
		}
		if n, err := l.Purge(ctx); err != nil || n != 2 {
			t.Errorf("Purge = %d, %v; want 2", n, err)
		}
		if got, err := l.List(ctx); err != nil || len(got) != 0 {
			t.Errorf("List after Purge = %v, %v", domains(got), err)
		}
		if _, err := c.GetNegative(ctx, "none.example"); !errors.Is(err, ErrNotFound) {
			t.Errorf("negative entry after Purge: %v", err)
		}
		if due, _ := c.Due(ctx, clk.Now().Add(2*time.Hour), 10); len(due) != 0 {
			t.Errorf("Due after Purge: %v", domains(due))
		}
		if os, _ := c.(OverrideStore).Overrides(ctx); len(os) != 1 {
			t.Errorf("Purge removed overrides: %v", os)
		}
	})

	t.Run("Usage", func(t *testing.T) {
		c, _, clk := setup(t)
		u := c.(UsageStore)
		t0 := clk.Now()
		if err := u.MarkUsed(ctx, "a.example", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		_ = u.MarkUsed(ctx, "a.example", t0) // older: ignored
		_ = u.MarkUsed(ctx, "b.example", t0)
		got, err := u.LastUsed(ctx, []string{"a.example", "b.example", "c.example"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]time.Time{"a.example": t0.Add(time.Hour), "b.example": t0}
		if d := cmp.Diff(want, got, cmpopts.EquateApproxTime(time.Millisecond)); d != "" {
			t.Errorf("LastUsed (-want +got):\n%s", d)
		}
		if err := u.ForgetUsed(ctx, "a.example"); err != nil {
			t.Fatal(err)
		}
		if got, _ := u.LastUsed(ctx, []string{"a.example"}); len(got) != 0 {
			t.Errorf("after ForgetUsed: %v", got)
		}
	})
}
