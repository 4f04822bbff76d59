package monitor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/reportstore"
)

// TestRunOneWatcher runs two monitors over one PostgreSQL store, each
// with its own connections, as two servers would: one watches at a time,
// the other takes over when the first stops, and the alert of the broken
// domain is sent once.
func TestRunOneWatcher(t *testing.T) {
	pg := testservers.StartPostgres(t)
	url := pg.NewDatabase(t)
	s := newWatch(t, url)
	s.mu.Lock()
	s.id = "newer" // the record publishes another id: one alert
	s.mu.Unlock()

	type runner struct {
		m      *Monitor
		cancel context.CancelFunc
		done   chan error
	}
	var runners []*runner
	for range 2 {
		// The lease runs on the real clock, the conditions on the test's.
		store, err := reportstore.Open(context.Background(), url, reportstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		m, err := New(Options{Store: store, Policies: s.policies, Interval: time.Second, Now: s.clock.Now,
			Check:    check.Options{Resolver: s.w.Resolver(), RootCAs: s.w.RootCAs(), Dial: s.w.DialContext, Timeout: 10 * time.Second},
			Channels: []Channel{&Webhook{URL: s.hook.srv.URL}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := &runner{m: m, cancel: cancel, done: make(chan error, 1)}
		go func() { r.done <- m.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-r.done })
		runners = append(runners, r)
	}
	leaders := func() (n int, leader int) {
		for i, r := range runners {
			if r.m.leader.Load() {
				n, leader = n+1, i
			}
		}
		return n, leader
	}
	// Sample the leaders while the first watcher works.
	var mu sync.Mutex
	most := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			n, _ := leaders()
			mu.Lock()
			most = max(most, n)
			mu.Unlock()
		}
	})
	waitUntil(t, "an alert", func() bool { return len(s.hook.received()) >= 1 })
	_, first := leaders()
	runners[first].cancel()
	if err := <-runners[first].done; err != nil {
		t.Errorf("Run: %v", err)
	}
	runners[first].done <- nil // for the cleanup
	other := runners[1-first]
	waitUntil(t, "the take-over", func() bool { return other.m.leader.Load() })
	checked := func() float64 { return testutil.ToFloat64(other.m.metrics.checks.WithLabelValues("ok")) }
	waitUntil(t, "two rounds of the new watcher", func() bool { return checked() >= 2 })
	close(stop)
	wg.Wait()
	if most > 1 {
		t.Errorf("%d monitors watched at once", most)
	}
	if got := s.hook.received(); len(got) != 1 {
		t.Errorf("webhook got %d alerts, want 1: %v", len(got), got)
	}
}

// waitUntil polls cond until it holds, or fails the test after a minute
// (a hang, not a slow machine).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
