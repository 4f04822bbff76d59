package resolver_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/resolver"
)

// newMXEnv is newEnv with MX lookups through the world's DNS.
func newMXEnv(t *testing.T) *env {
	return newEnv(t, func(c *resolver.Config) { c.MX = resolver.NewMXLookup(c.DNS.(*dnsx.Client)) })
}

// mx calls MX, failing the test on error.
func (e *env) mx(domain string) *resolver.MXHosts {
	e.t.Helper()
	m, err := e.r.MX(e.t.Context(), domain)
	if err != nil {
		e.t.Fatalf("MX(%s): %v", domain, err)
	}
	return m
}

// The MX hosts are remembered for the answer's TTL and no longer: within
// it no query is sent; after it the records are looked up again and a
// change is followed.
func TestMXFollowsTTL(t *testing.T) {
	e := newMXEnv(t)
	e.w.DNS.Add("example.com. 300 MX 20 MX2.Example.com.", "example.com. 300 MX 10 mx1.example.com.", "example.com. 300 MX 30 mx1.example.com.")
	queries := func() int { return e.w.DNS.Queries("example.com", dns.TypeMX) }

	m := e.mx("example.com")
	if want := []string{"mx1.example.com", "mx2.example.com"}; !slices.Equal(m.Hosts, want) {
		t.Errorf("hosts %q, want %q (preference order, lower case, no duplicates)", m.Hosts, want)
	}
	e.clk.Advance(200 * time.Second)
	if e.mx("example.com") != m || queries() != 1 {
		t.Errorf("within the TTL: %d queries, want the remembered answer and 1", queries())
	}
	e.w.DNS.Remove("example.com", dns.TypeMX)
	e.w.DNS.Add("example.com. 300 MX 10 mx3.example.com.")
	e.clk.Advance(101 * time.Second)
	if m := e.mx("example.com"); !slices.Equal(m.Hosts, []string{"mx3.example.com"}) || queries() != 2 {
		t.Errorf("after the TTL: hosts %q after %d queries, want mx3.example.com after 2", m.Hosts, queries())
	}
}

// Past three quarters of the TTL the remembered answer is still given,
// and a lookup runs in the background, whose answer the next call gets.
func TestMXRefreshesInBackground(t *testing.T) {
	e := newMXEnv(t)
	e.w.DNS.Add("example.com. 400 MX 10 mx1.example.com.")
	old := e.mx("example.com")
	if !old.Current() {
		t.Error("a new answer is not current")
	}
	e.w.DNS.Remove("example.com", dns.TypeMX)
	e.w.DNS.Add("example.com. 400 MX 10 mx2.example.com.")
	e.clk.Advance(301 * time.Second)
	if old.Current() {
		t.Error("past 3/4 of the TTL the answer is still current")
	}
	if m := e.mx("example.com"); m != old {
		t.Errorf("past 3/4 of the TTL: hosts %q, want the remembered answer at once", m.Hosts)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m := e.mx("example.com"); slices.Equal(m.Hosts, []string{"mx2.example.com"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background lookup never replaced the answer (%d queries)", e.w.DNS.Queries("example.com", dns.TypeMX))
		}
	}
	if n := e.w.DNS.Queries("example.com", dns.TypeMX); n != 2 {
		t.Errorf("%d MX queries, want 2", n)
	}
}

func TestMXAnswers(t *testing.T) {
	e := newMXEnv(t)
	e.w.DNS.Add(
		"long.example. 86400 MX 10 mx.long.example.",
		"implicit.example. A 192.0.2.1",
		"null.example. 120 MX 0 .",
	)
	e.w.DNS.SetRcode("servfail.example", dns.TypeMX, dns.RcodeServerFailure)
	now := e.clk.Now()
	for _, tc := range []struct {
		domain  string
		hosts   []string
		expires time.Duration
	}{
		{"long.example", []string{"mx.long.example"}, resolver.MaxMXTTL},
		// RFC 5321 §5.1: no MX records, the domain itself.
		{"implicit.example", []string{"implicit.example"}, 0},
		{"nxdomain.example", []string{"nxdomain.example"}, 0},
		// RFC 7505: a null MX, no host at all.
		{"null.example", []string{}, 2 * time.Minute},
	} {
		m := e.mx(tc.domain)
		if !slices.Equal(m.Hosts, tc.hosts) || !m.Expires.Equal(now.Add(tc.expires)) {
			t.Errorf("%s: hosts %q expiring in %v, want %q and %v", tc.domain, m.Hosts, m.Expires.Sub(now), tc.hosts, tc.expires)
		}
	}
	// A failure is not "no MX records": the hosts are unknown.
	if _, err := e.r.MX(t.Context(), "servfail.example"); !errors.Is(err, resolver.ErrMX) {
		t.Errorf("SERVFAIL: err %v, want ErrMX", err)
	}
	r, err := resolver.New(resolver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.MX(t.Context(), "long.example"); !errors.Is(err, resolver.ErrMX) {
		t.Errorf("without MXLookup: err %v, want ErrMX", err)
	}
}
