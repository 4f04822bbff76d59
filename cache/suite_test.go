package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/sts"
)

// newClock returns a test clock at the real time, so that Redis' own
// expiry (real time) never runs ahead of it.
func newClock() *testclock.Clock { return testclock.New(time.Now().Truncate(time.Millisecond)) }

// opener makes an empty cache using the clock.
type opener func(t *testing.T, now func() time.Time) Cache

const policyText = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.mail.example.com\nmax_age: 86400\n"

// entry returns an entry of domain fetched at now, valid for a day,
// due for refresh after refreshIn.
func entry(domain, id string, now time.Time, refreshIn time.Duration) *Entry {
	return &Entry{
		Domain: domain, ID: id, Text: policyText,
		Fetched: now, Expires: now.Add(24 * time.Hour), Checked: now.Add(time.Second),
		RefreshAt: now.Add(refreshIn),
	}
}

// entryDiff compares entries, times by instant.
func entryDiff(want, got *Entry) string {
	return cmp.Diff(want, got, cmpopts.EquateApproxTime(0), cmpopts.IgnoreFields(Entry{}, "Policy"))
}

// runSuite runs the behaviour every Cache must have.
func runSuite(t *testing.T, open opener) {
	ctx := context.Background()
	setup := func(t *testing.T) (Cache, *testclock.Clock) {
		c := newClock()
		cache := open(t, c.Now)
		t.Cleanup(func() { cache.Close() })
		return cache, c
	}

	t.Run("Empty", func(t *testing.T) {
		c, _ := setup(t)
		if _, err := c.Get(ctx, "example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get = %v, want ErrNotFound", err)
		}
		if _, err := c.GetNegative(ctx, "example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetNegative = %v, want ErrNotFound", err)
		}
		if err := c.Delete(ctx, "example.com"); err != nil {
			t.Errorf("Delete of nothing: %v", err)
		}
		if err := c.DeleteNegative(ctx, "example.com"); err != nil {
			t.Errorf("DeleteNegative of nothing: %v", err)
		}
		if due, err := c.Due(ctx, time.Now().Add(time.Hour), 10); err != nil || len(due) != 0 {
			t.Errorf("Due = %v, %v; want nothing", due, err)
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		c, clk := setup(t)
		in := entry("example.com", "20240101", clk.Now(), 12*time.Hour)
		if err := c.Put(ctx, in); err != nil {
			t.Fatal(err)
		}
		got, err := c.Get(ctx, "example.com")
		if err != nil {
			t.Fatal(err)
		}
		if d := entryDiff(in, got); d != "" {
			t.Errorf("Get (-put +got):\n%s", d)
		}
		want, _ := sts.ParsePolicy([]byte(policyText))
		if d := cmp.Diff(want, got.Policy); d != "" {
			t.Errorf("Policy not parsed from Text (-want +got):\n%s", d)
		}
		if got.Fetched.Location() != time.UTC {
			t.Errorf("Fetched in %v, want UTC", got.Fetched.Location())
		}
		if _, err := c.Get(ctx, "other.example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(other domain) = %v, want ErrNotFound", err)
		}
	})

	t.Run("PutReplaces", func(t *testing.T) {
		c, clk := setup(t)
		_ = c.Put(ctx, entry("example.com", "1", clk.Now(), time.Hour))
		clk.Advance(time.Minute)
		newer := entry("example.com", "2", clk.Now(), time.Hour)
		newer.Text = "version: STSv1\nmode: testing\nmx: mx2.example.com\nmax_age: 600\n"
		if err := c.Put(ctx, newer); err != nil {
			t.Fatal(err)
		}
		got, err := c.Get(ctx, "example.com")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "2" || got.Policy.Mode != sts.ModeTesting {
			t.Errorf("Get = id %s mode %s, want id 2 mode testing", got.ID, got.Policy.Mode)
		}
	})

	// RFC 8461 §5.1: a policy is valid until max_age runs out, no longer.
	t.Run("Expiry", func(t *testing.T) {
		c, clk := setup(t)
		_ = c.Put(ctx, entry("example.com", "1", clk.Now(), time.Hour))
		clk.Advance(24*time.Hour - time.Second)
		if _, err := c.Get(ctx, "example.com"); err != nil {
			t.Errorf("Get a second before expiry: %v", err)
		}
		clk.Advance(time.Second)
		if _, err := c.Get(ctx, "example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get at expiry = %v, want ErrNotFound", err)
		}
		if due, err := c.Due(ctx, clk.Now(), 10); err != nil || len(due) != 0 {
			t.Errorf("Due after expiry = %d entries, %v; want none", len(due), err)
		}
	})

	t.Run("PutExpiredRemoves", func(t *testing.T) {
		c, clk := setup(t)
		_ = c.Put(ctx, entry("example.com", "1", clk.Now(), time.Hour))
		gone := entry("example.com", "2", clk.Now().Add(-48*time.Hour), time.Hour)
		if err := c.Put(ctx, gone); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, "example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after putting an expired entry = %v, want ErrNotFound", err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		c, clk := setup(t)
		_ = c.Put(ctx, entry("example.com", "1", clk.Now(), time.Hour))
		_ = c.Put(ctx, entry("example.net", "1", clk.Now(), time.Hour))
		if err := c.Delete(ctx, "example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, "example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after Delete = %v, want ErrNotFound", err)
		}
		if _, err := c.Get(ctx, "example.net"); err != nil {
			t.Errorf("Delete removed another domain: %v", err)
		}
		clk.Advance(2 * time.Hour)
		due, err := c.Due(ctx, clk.Now(), 10)
		if err != nil || len(due) != 1 || due[0].Domain != "example.net" {
			t.Errorf("Due after Delete = %v, %v; want example.net only", due, err)
		}
	})

	t.Run("InvalidPut", func(t *testing.T) {
		c, clk := setup(t)
		bad := entry("example.com", "1", clk.Now(), time.Hour)
		bad.Text = "not a policy"
		if err := c.Put(ctx, bad); !errors.Is(err, sts.ErrPolicySyntax) {
			t.Errorf("Put(invalid policy) = %v, want ErrPolicySyntax", err)
		}
		if err := c.Put(ctx, &Entry{Text: policyText}); err == nil {
			t.Error("Put(entry without domain) succeeded")
		}
		if err := c.PutNegative(ctx, &Negative{Kind: NoRecord}); err == nil {
			t.Error("PutNegative(entry without domain) succeeded")
		}
	})

	// RFC 8461 §3.3: a failed fetch is remembered so that it is not
	// retried for the same id within 5 minutes.
	t.Run("Negative", func(t *testing.T) {
		c, clk := setup(t)
		n := &Negative{Domain: "example.com", Kind: FetchFailed, ID: "abc", Reason: "HTTP 404",
			Created: clk.Now(), Expires: clk.Now().Add(5 * time.Minute)}
		if err := c.PutNegative(ctx, n); err != nil {
			t.Fatal(err)
		}
		got, err := c.GetNegative(ctx, "example.com")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(n, got, cmpopts.EquateApproxTime(0)); d != "" {
			t.Errorf("GetNegative (-put +got):\n%s", d)
		}
		if _, err := c.Get(ctx, "example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a negative entry shows as a policy: %v", err)
		}
		repl := &Negative{Domain: "example.com", Kind: NoRecord, Reason: "NXDOMAIN", Created: clk.Now(), Expires: clk.Now().Add(time.Minute)}
		_ = c.PutNegative(ctx, repl)
		if got, _ := c.GetNegative(ctx, "example.com"); got == nil || got.Kind != NoRecord || got.ID != "" {
			t.Errorf("after replacing: %+v, want kind no-record without id", got)
		}
		clk.Advance(time.Minute)
		if _, err := c.GetNegative(ctx, "example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetNegative at expiry = %v, want ErrNotFound", err)
		}
		_ = c.PutNegative(ctx, &Negative{Domain: "example.org", Kind: NoRecord, Created: clk.Now(), Expires: clk.Now().Add(time.Minute)})
		if err := c.DeleteNegative(ctx, "example.org"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetNegative(ctx, "example.org"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetNegative after DeleteNegative = %v, want ErrNotFound", err)
		}
		_ = c.PutNegative(ctx, &Negative{Domain: "example.org", Kind: NoRecord, Created: clk.Now(), Expires: clk.Now()})
		if _, err := c.GetNegative(ctx, "example.org"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetNegative of an entry put expired = %v, want ErrNotFound", err)
		}
	})

	// RFC 8461 §10.2: Due lists the policies to refresh, earliest first.
	t.Run("Due", func(t *testing.T) {
		c, clk := setup(t)
		now := clk.Now()
		for i, in := range []time.Duration{3 * time.Hour, time.Hour, 30 * time.Hour, 2 * time.Hour} {
			e := entry(fmt.Sprintf("d%d.example", i), "1", now, in)
			e.Expires = now.Add(48 * time.Hour)
			_ = c.Put(ctx, e)
		}
		never := entry("never.example", "1", now, 0)
		never.RefreshAt = time.Time{}
		_ = c.Put(ctx, never)

		clk.Advance(5 * time.Hour)
		got, err := c.Due(ctx, clk.Now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]string{"d1.example", "d3.example", "d0.example"}, domains(got)); d != "" {
			t.Errorf("Due (-want +got):\n%s", d)
		}
		if len(got) > 0 && got[0].Policy == nil {
			t.Error("Due returned an entry without its parsed policy")
		}
		got, _ = c.Due(ctx, clk.Now(), 2)
		if d := cmp.Diff([]string{"d1.example", "d3.example"}, domains(got)); d != "" {
			t.Errorf("Due with limit 2 (-want +got):\n%s", d)
		}
		// A refreshed entry leaves the list.
		_ = c.Put(ctx, entry("d1.example", "2", clk.Now(), 12*time.Hour))
		got, _ = c.Due(ctx, clk.Now(), 10)
		if d := cmp.Diff([]string{"d3.example", "d0.example"}, domains(got)); d != "" {
			t.Errorf("Due after refreshing d1 (-want +got):\n%s", d)
		}
	})

	t.Run("Operator", func(t *testing.T) { runOperatorSuite(t, open) })

	t.Run("Concurrent", func(t *testing.T) {
		c, clk := setup(t)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 20 {
					d := fmt.Sprintf("d%d.example", i%5)
					if err := c.Put(ctx, entry(d, fmt.Sprint(g), clk.Now(), time.Hour)); err != nil {
						t.Error(err)
						return
					}
					if _, err := c.Get(ctx, d); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

func domains(es []*Entry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Domain)
	}
	return out
}
