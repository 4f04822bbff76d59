package policyhost

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
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
	if got := servedMX(t, ts.srv); !slices.Equal(got, []string{"*.backup.example", "mx1.a.test", "mx3.a.test"}) {
		t.Errorf("after the MX change: %v", got)
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
	if got := servedMX(t, s2); !slices.Equal(got, []string{"*.backup.example", "mx1.a.test", "mx3.a.test"}) || policyID(t, s2, "a.test") != id2 {
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
