package resolver_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
)

// override stores an override of domain in the resolver's cache, in
// force from now for d.
func (e *env) override(domain string, mode sts.Mode, d time.Duration) *cache.Override {
	e.t.Helper()
	o := &cache.Override{Domain: domain, Mode: mode, Reason: "MX certificate expired", Actor: "alice",
		Created: e.clk.Now(), Expires: e.clk.Now().Add(d)}
	if err := e.cfg.Cache.(cache.OverrideStore).PutOverride(context.Background(), o); err != nil {
		e.t.Fatal(err)
	}
	return o
}

// Each mode of an override, over each kind of policy: none and testing
// are answered without network work; enforce enforces a testing policy
// and leaves any decision without mx patterns as it is.
func TestOverrideModes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy string // "" for no record
		cached bool   // decided once before the override
		mode   sts.Mode
		kind   resolver.Kind
		source resolver.Source
		mx     []string
		net    int // TXT queries and fetches in all
	}{
		{"none over enforce", enforcePolicy, true, sts.ModeNone, resolver.None, resolver.SourceOverride, nil, 1},
		{"none, nothing cached", enforcePolicy, false, sts.ModeNone, resolver.None, resolver.SourceOverride, nil, 0},
		{"testing over enforce", enforcePolicy, true, sts.ModeTesting, resolver.Testing, resolver.SourceOverride, []string{"mx1.example.com", "*.mail.example.com"}, 1},
		{"testing, nothing cached", enforcePolicy, false, sts.ModeTesting, resolver.Testing, resolver.SourceOverride, nil, 0},
		{"enforce over testing", testingPolicy, true, sts.ModeEnforce, resolver.Enforce, resolver.SourceOverride, []string{"mx2.example.com"}, 1},
		{"enforce over testing, fetched", testingPolicy, false, sts.ModeEnforce, resolver.Enforce, resolver.SourceOverride, []string{"mx2.example.com"}, 1},
		{"enforce over none", nonePolicy, true, sts.ModeEnforce, resolver.None, resolver.SourceCache, nil, 1},
		{"enforce without policy", "", false, sts.ModeEnforce, resolver.NoPolicy, resolver.SourceDNS, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.policy != "" {
				e.w.PolicyDomain("example.com", tc.policy)
			}
			if tc.cached {
				e.decide("example.com")
			}
			o := e.override("example.com", tc.mode, time.Hour)
			e.clk.Advance(resolver.DefaultOverrideTTL) // seen by a resolver that read the overrides before
			d := e.decide("Example.com")
			e.want(d, tc.kind, tc.source)
			if !slices.Equal(d.MX, tc.mx) || d.Override == nil || d.Override.Actor != o.Actor {
				t.Errorf("mx %q, override %+v; want mx %q and the override", d.MX, d.Override, tc.mx)
			}
			if n := e.txtQueries("example.com"); n != tc.net {
				t.Errorf("%d TXT queries, want %d", n, tc.net)
			}
			j := d.JSON()
			if j.Override == nil || j.Override.Mode != tc.mode || j.Override.Reason != o.Reason {
				t.Errorf("JSON override %+v", j.Override)
			}
		})
	}
}

// An override added, or removed, in the cache reaches the resolver within
// OverrideTTL, and ends at its expiry by the resolver's clock.
func TestOverrideReadThroughAndExpiry(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceFetch)

	e.override("example.com", sts.ModeTesting, 48*time.Hour)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceCache) // the copy is recent
	e.clk.Advance(resolver.DefaultOverrideTTL)
	e.want(e.decide("example.com"), resolver.Testing, resolver.SourceOverride)
	if got := e.r.Overrides(); len(got) != 1 || got[0].Domain != "example.com" {
		t.Errorf("Overrides() = %v", got)
	}

	// At expiry, without waiting for a reload.
	e.clk.Advance(48*time.Hour - resolver.DefaultOverrideTTL - time.Second)
	e.want(e.decide("example.com"), resolver.Testing, resolver.SourceOverride)
	e.clk.Advance(time.Second)
	if d := e.decide("example.com"); d.Source == resolver.SourceOverride || d.Override != nil || d.Kind != resolver.Enforce {
		t.Errorf("after expiry: %s from %s, override %v", d.Kind, d.Source, d.Override)
	}
	if got := e.r.Overrides(); len(got) != 0 {
		t.Errorf("Overrides() after expiry = %v", got)
	}

	// Removed.
	e.override("example.com", sts.ModeNone, time.Hour)
	e.clk.Advance(resolver.DefaultOverrideTTL)
	e.want(e.decide("example.com"), resolver.None, resolver.SourceOverride)
	if err := e.cfg.Cache.(cache.OverrideStore).DeleteOverride(context.Background(), "example.com"); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(resolver.DefaultOverrideTTL)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceCache)
}

// RFC 8461 §2: an override of MTA-STS does not override DANE either.
func TestOverrideLeavesDANE(t *testing.T) {
	e := newEnv(t, withDANE)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.w.DNS.Add("example.com. MX 10 mx1.example.com.", "_25._tcp.mx1.example.com. TLSA "+tlsaData)
	e.w.DNS.SetAuthenticated("example.com", true)
	e.w.DNS.SetAuthenticated("_25._tcp.mx1.example.com", true)
	e.override("example.com", sts.ModeNone, time.Hour)
	e.want(e.decide("example.com"), resolver.DANE, resolver.SourceDNS)
}
