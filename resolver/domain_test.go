package resolver_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
)

// Decide takes a policy domain, normalized if it is not already; a next
// hop with a port or brackets is not one (enforce.ParseNextHop reads
// those), nor is an address.
func TestDomainForms(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	for _, name := range []string{"example.com", "EXAMPLE.com.", "Example.Com"} {
		d, err := e.r.Decide(t.Context(), name)
		if err != nil || d.Kind != resolver.Enforce || d.Domain != "example.com" {
			t.Errorf("%q: %s for %q, %v; want enforce for example.com", name, d.Kind, d.Domain, err)
		}
	}
}

func TestInvalidDomain(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	for _, name := range []string{"", "exa mple.com", "a..b", "example.com:", "example.com:587", "-x.example",
		"[example.com]", ".example.com", "192.0.2.1", "2001:db8::1"} {
		d, err := e.r.Decide(t.Context(), name)
		if !errors.Is(err, sts.ErrInvalidDomain) || d.Kind != resolver.NoPolicy || d.Source != resolver.SourceNextHop || d.Domain != "" {
			t.Errorf("Decide(%q) = %s from %s, %v; want no-policy from next-hop and ErrInvalidDomain", name, d.Kind, d.Source, err)
		}
	}
	if n := e.w.DNS.Queries("_mta-sts.example.com", dns.TypeTXT); n != 0 {
		t.Errorf("%d TXT queries for names that are no policy domain", n)
	}
}

// RFC 8461 §3.4: a policy never applies to subdomains; the resolver
// never looks at a parent domain.
func TestSection3_4NoParentFallback(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.want(e.decide("mail.example.com"), resolver.NoPolicy, resolver.SourceDNS)
	e.wantNetwork("example.com", 0, 0) // the parent domain is never asked
}

// Policy domains are normalized to A-labels (RFC 8461 §3.2 names IDNs in
// A-label form); the cache key is the A-label form whatever the input.
func TestIDNDomain(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("xn--bcher-kva.example", "version: STSv1\nmode: enforce\nmx: mx.xn--bcher-kva.example\nmax_age: 86400\n")
	d := e.decide("Bücher.example.")
	e.want(d, resolver.Enforce, resolver.SourceFetch)
	if d.Domain != "xn--bcher-kva.example" {
		t.Errorf("Domain %q, want the A-label form", d.Domain)
	}
	e.want(e.decide("xn--bcher-kva.example"), resolver.Enforce, resolver.SourceCache)
}

func TestDecisionJSON(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	b, err := json.Marshal(e.decide("example.com"))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"domain", "decision", "mx", "id", "max_age", "fetched", "expires", "source", "reason"} {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON %s lacks %q", b, k)
		}
	}
	if got["decision"] != "enforce" || got["max_age"] != float64(604800) {
		t.Errorf("JSON %s", b)
	}
	b, _ = json.Marshal(e.decide("norecord.example"))
	got = nil
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if mx, ok := got["mx"].([]any); !ok || len(mx) != 0 {
		t.Errorf("no-policy JSON %s: mx must be an empty list", b)
	}
	for _, k := range []string{"id", "max_age", "fetched"} {
		if _, ok := got[k]; ok {
			t.Errorf("no-policy JSON %s has %q", b, k)
		}
	}
}
