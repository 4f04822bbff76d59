package policyhost

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/sts"
)

func autoConfig(t *testing.T, w *testworld.World) Config {
	cfg := testConfig(t, w, "a.test")
	cfg.Domains[0].MX = []string{"*.backup.example"}
	cfg.Domains[0].MXAuto = true
	return cfg
}

func servedMX(t *testing.T, s *Server) []string {
	t.Helper()
	var mx []string
	for _, p := range s.Handler().Policies() {
		for _, line := range strings.Split(string(p.Text), "\r\n") {
			if v, ok := strings.CutPrefix(line, "mx: "); ok {
				mx = append(mx, v)
			}
		}
	}
	return mx
}

// mx = "auto" follows the live MX records: a change gives a new policy, a
// new id and a warning; a failed lookup keeps the hosts last seen, also
// across a restart.
func TestAutoMX(t *testing.T) {
	w := testworld.New(t)
	w.DNS.Add("a.test. 300 IN MX 20 mx2.a.test.", "a.test. 300 IN MX 10 MX1.a.test.", "a.test. 300 IN MX 30 relay.backup.example.")
	resolver, err := dnsx.NewFromAddr(w.Resolver())
	if err != nil {
		t.Fatal(err)
	}
	cfg := autoConfig(t, w)
	ts := startSite(t, cfg, Options{Resolver: resolver})
	want := []string{"*.backup.example", "mx1.a.test", "mx2.a.test"}
	if got := servedMX(t, ts.srv); !slices.Equal(got, want) {
		t.Fatalf("served mx %v, want %v", got, want)
	}
	id1 := policyID(t, ts.srv, "a.test")
	if f, err := ts.fetch(t, w, "a.test"); err != nil || !f.Policy.Match("mx2.a.test") {
		t.Fatalf("fetch: %v", err)
	}

	w.DNS.Remove("a.test", dns.TypeMX)
	w.DNS.Add("a.test. 300 IN MX 10 mx1.a.test.", "a.test. 300 IN MX 20 mx3.a.test.", "a.test. 300 IN MX 30 relay.backup.example.")
	ts.srv.refresh(context.Background(), true)
	// mx2 left DNS: the enforce policy keeps it for its max_age.
	afterChange := []string{"*.backup.example", "mx1.a.test", "mx2.a.test", "mx3.a.test"}
	if got := servedMX(t, ts.srv); !slices.Equal(got, afterChange) {
		t.Errorf("after the MX change: %v, want %v", got, afterChange)
	}
	if id := policyID(t, ts.srv, "a.test"); id == id1 {
		t.Errorf("id unchanged after the MX change")
	}
	if !ts.logged("live MX set changed", `"added":["mx3.a.test"]`, `"removed":["mx2.a.test"]`) {
		t.Errorf("no warning about the MX change:\n%s", ts.logs)
	}
	if got := metricValue(t, ts, `mtasts_serve_auto_mx_changes_total{domain="a.test"}`); got != 1 {
		t.Errorf("mx change metric %v", got)
	}

	// DNS fails: the last hosts seen stay.
	w.DNS.SetRcode("a.test", dns.TypeMX, dns.RcodeServerFailure)
	id2 := policyID(t, ts.srv, "a.test")
	ts.srv.refresh(context.Background(), true)
	if id := policyID(t, ts.srv, "a.test"); id != id2 {
		t.Errorf("a failed lookup changed the policy")
	}
	if !ts.logged("MX lookup failed") {
		t.Errorf("failed lookup not logged")
	}
	ts.stop()

	// A restart while DNS fails serves the hosts kept in the state file.
	s2, err := New(context.Background(), cfg, Options{Resolver: resolver})
	if err != nil {
		t.Fatalf("restart while DNS fails: %v", err)
	}
	if got := servedMX(t, s2); !slices.Equal(got, afterChange) || policyID(t, s2, "a.test") != id2 {
		t.Errorf("after restart: %v, id %s", got, policyID(t, s2, "a.test"))
	}

	// A domain never seen cannot start without its MX records.
	fresh := autoConfig(t, w)
	if _, err := New(context.Background(), fresh, Options{Resolver: resolver}); err == nil || !strings.Contains(err.Error(), `domain "a.test": mx: auto`) {
		t.Errorf("new auto domain with failing DNS: %v", err)
	}
}

func TestLookupMXHostsNullMX(t *testing.T) {
	w := testworld.New(t)
	w.DNS.Add("null.test. 300 IN MX 0 .")
	resolver, _ := dnsx.NewFromAddr(w.Resolver())
	if _, err := lookupMXHosts(context.Background(), resolver, "null.test"); err == nil || !strings.Contains(err.Error(), "null MX") {
		t.Errorf("null MX: %v", err)
	}
}

// TestAutoMXDrift checks that a change of the live MX set never cuts a
// sender off in mode enforce: a new host joins the policy only once it
// validates, a host gone from DNS stays for the policy's max_age (across
// a restart too), and mode testing follows DNS at once.
func TestAutoMXDrift(t *testing.T) {
	w := testworld.New(t)
	w.DNS.Add("a.test. 300 IN MX 10 mx1.a.test.")
	resolver, err := dnsx.NewFromAddr(w.Resolver())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	broken := map[string]bool{"mx2.a.test": true}
	opts := Options{
		Resolver: resolver,
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		},
		ValidateMX: func(_ context.Context, host string) error {
			mu.Lock()
			defer mu.Unlock()
			if broken[host] {
				return errors.New("no STARTTLS")
			}
			return nil
		},
	}
	cfg := autoConfig(t, w)
	cfg.Domains[0].MX, cfg.Domains[0].MaxAge = nil, 86400
	ts := startSite(t, cfg, opts)
	check := func(step string, want ...string) {
		t.Helper()
		ts.srv.refresh(context.Background(), true)
		if got := servedMX(t, ts.srv); !slices.Equal(got, want) {
			t.Errorf("%s: served mx %v, want %v", step, got, want)
		}
	}
	check("start", "mx1.a.test")

	w.DNS.Remove("a.test", dns.TypeMX)
	w.DNS.Add("a.test. 300 IN MX 10 mx2.a.test.")
	check("mx1 replaced by mx2, which fails validation", "mx1.a.test")
	if !ts.logged("new MX host left out of the enforce policy until it validates", "no STARTTLS") {
		t.Errorf("the refused host is not logged:\n%s", ts.logs)
	}
	mu.Lock()
	broken["mx2.a.test"] = false
	now = now.Add(time.Hour)
	mu.Unlock()
	check("mx2 validates", "mx1.a.test", "mx2.a.test")
	ts.stop()

	// The time mx1 may stay is kept across a restart.
	mu.Lock()
	now = now.Add(23 * time.Hour)
	mu.Unlock()
	ts = startSite(t, cfg, opts)
	check("max_age after mx1 left", "mx2.a.test")

	// Mode testing follows DNS at once.
	ts.stop()
	cfg.Domains[0].Mode = sts.ModeTesting
	w.DNS.Remove("a.test", dns.TypeMX)
	w.DNS.Add("a.test. 300 IN MX 10 mx3.a.test.")
	mu.Lock()
	broken["mx3.a.test"] = true
	mu.Unlock()
	ts = startSite(t, cfg, opts)
	check("testing", "mx3.a.test")
}
