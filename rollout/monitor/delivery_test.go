package monitor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/reportstore"
)

// flakyHook answers a POST with 503 while it is down or for its first
// fails requests, else 200, and counts both.
type flakyHook struct {
	srv *httptest.Server

	mu      sync.Mutex
	down    bool
	fails   int
	refused int
	taken   int
}

func newFlakyHook(t *testing.T, fails int) *flakyHook {
	h := &flakyHook{fails: fails}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.down || h.fails > 0 {
			h.fails--
			h.refused++
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		h.taken++
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *flakyHook) counts() (refused, taken int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.refused, h.taken
}

func (h *flakyHook) setDown(down bool) {
	h.mu.Lock()
	h.down = down
	h.mu.Unlock()
}

// A webhook that fails twice is retried within one delivery; a channel
// that is down keeps the alert pending for it alone, and gets it once it
// is back, while the other channel gets it once.
func TestDeliveryRetries(t *testing.T) {
	ctx := context.Background()
	store, err := reportstore.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "reports.db"), reportstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	flaky, down := newFlakyHook(t, 2), newFlakyHook(t, 0)
	down.setDown(true)
	m, err := New(Options{Store: store, Check: check.Options{Resolver: "127.0.0.1:1"}, Policies: func() []policyhost.Policy { return nil },
		Channels: []Channel{
			&Webhook{Index: 0, URL: flaky.srv.URL, Tries: 3, Pause: time.Millisecond},
			&Webhook{Index: 1, URL: down.srv.URL, Tries: 2, Pause: time.Millisecond},
		}})
	if err != nil {
		t.Fatal(err)
	}
	cond := Condition{Kind: KindSTSRecordMissing, Subject: "_mta-sts.example.com", Severity: Critical, Message: "m", Fix: "f"}
	if err := m.reconcile(ctx, "example.com", []Condition{cond}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := m.deliver(ctx); err != nil {
		t.Fatal(err)
	}
	if refused, taken := flaky.counts(); refused != 2 || taken != 1 {
		t.Errorf("flaky webhook: %d refused, %d taken; want 2, 1", refused, taken)
	}
	if refused, taken := down.counts(); refused != 2 || taken != 0 {
		t.Errorf("webhook down: %d refused, %d taken; want 2, 0", refused, taken)
	}
	pending, err := store.PendingMonitorAlerts(ctx)
	if err != nil || len(pending) != 1 || len(pending[0].Pending) != 1 || pending[0].Pending[0] != "webhook[1]" {
		t.Fatalf("pending: %+v, %v", pending, err)
	}

	down.setDown(false)
	if err := m.deliver(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.deliver(ctx); err != nil {
		t.Fatal(err)
	}
	if _, taken := flaky.counts(); taken != 1 {
		t.Errorf("flaky webhook took %d alerts, want 1", taken)
	}
	if _, taken := down.counts(); taken != 1 {
		t.Errorf("webhook back up took %d alerts, want 1", taken)
	}
	if pending, err := store.PendingMonitorAlerts(ctx); err != nil || len(pending) != 0 {
		t.Errorf("pending after delivery: %+v, %v", pending, err)
	}
}
