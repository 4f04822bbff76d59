package resolver_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
)

// RFC 8461 §3.3, §5.1: the first decision fetches the policy, the next
// ones come from the cache without network work.
func TestSection3_3FetchThenCache(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)

	d := e.decide("example.com")
	e.want(d, resolver.Enforce, resolver.SourceFetch)
	if d.ID != e.w.PolicyID("example.com") || d.Domain != "example.com" || d.Policy.MaxAge != 604800 {
		t.Errorf("decision = %+v", d)
	}
	if diff := cmp.Diff([]string{"mx1.example.com", "*.mail.example.com"}, d.MX); diff != "" {
		t.Errorf("MX, in policy order (-want +got):\n%s", diff)
	}
	if d.Text != enforcePolicy || !d.Expires.Equal(e.clk.Now().Add(7*24*time.Hour)) {
		t.Errorf("Text %q, Expires %v", d.Text, d.Expires)
	}

	e.clk.Advance(30 * time.Second)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceCache)
	e.wantNetwork("example.com", 1, 1)
}

func TestModesAndNoneMode(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("testing.example", testingPolicy)
	e.w.PolicyDomain("none.example", nonePolicy)
	e.want(e.decide("testing.example"), resolver.Testing, resolver.SourceFetch)
	d := e.decide("none.example")
	e.want(d, resolver.None, resolver.SourceFetch)
	if len(d.MX) != 0 {
		t.Errorf("mode none: MX = %v", d.MX)
	}
}

// The acceptance test: 1000 concurrent decisions for one uncached
// domain cost exactly one TXT lookup and one HTTPS fetch.
func TestSingleflight1000Concurrent(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	var wg sync.WaitGroup
	kinds := make([]resolver.Kind, 1000)
	for i := range kinds {
		wg.Go(func() {
			d, err := e.r.Decide(context.Background(), "example.com")
			if err != nil {
				t.Error(err)
			}
			kinds[i] = d.Kind
		})
	}
	wg.Wait()
	for i, k := range kinds {
		if k != resolver.Enforce {
			t.Fatalf("decision %d = %s, want enforce", i, k)
		}
	}
	e.wantNetwork("example.com", 1, 1)
}

// Known trap; RFC 8461 §5.1: a temporary DNS failure is not the absence of
// a record. With nothing cached the answer is tempfail, and it is not
// remembered.
func TestSection5_1ServfailNothingCachedTempfail(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.w.DNS.SetRcode("_mta-sts.example.com", dns.TypeTXT, dns.RcodeServerFailure)
	e.want(e.decide("example.com"), resolver.Tempfail, resolver.SourceDNS)
	if f := e.fetches("example.com"); f != 0 {
		t.Errorf("%d fetches after a SERVFAIL", f)
	}
	e.w.DNS.SetRcode("_mta-sts.example.com", dns.TypeTXT, dns.RcodeSuccess)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceFetch)
}

// The per-domain switch for those who prefer delivering over deferring,
// asked only for a DNS failure with nothing cached; an answer other than
// NoPolicy is Tempfail.
func TestServfailDNSFailureNoPolicy(t *testing.T) {
	var asked []string
	e := newEnv(t, func(c *resolver.Config) {
		c.DNSFailure = func(domain string) resolver.Kind {
			asked = append(asked, domain)
			return map[string]resolver.Kind{"lenient.example": resolver.NoPolicy, "odd.example": resolver.Enforce}[domain]
		}
	})
	e.w.PolicyDomain("example.com", enforcePolicy)
	for _, d := range []string{"lenient.example", "odd.example", "strict.example"} {
		e.w.DNS.SetRcode("_mta-sts."+d, dns.TypeTXT, dns.RcodeServerFailure)
	}
	e.want(e.decide("lenient.example"), resolver.NoPolicy, resolver.SourceDNS)
	e.want(e.decide("odd.example"), resolver.Tempfail, resolver.SourceDNS)
	e.want(e.decide("strict.example"), resolver.Tempfail, resolver.SourceDNS)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceFetch)
	if want := "lenient.example odd.example strict.example"; strings.Join(asked, " ") != want {
		t.Errorf("DNSFailure asked about %q, want %q", asked, want)
	}
}

// RFC 8461 §5.1: with a cached policy, a failed TXT lookup leaves the
// cached policy in force.
func TestSection5_1ServfailWithCacheKeepsPolicy(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceFetch)
	e.w.DNS.SetRcode("_mta-sts.example.com", dns.TypeTXT, dns.RcodeServerFailure)
	e.clk.Advance(resolver.DefaultRecheckInterval)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceStale)
	e.wantNetwork("example.com", 2, 1)
	// The failed check counts as a check: no query for every message.
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceCache)
	e.wantNetwork("example.com", 2, 1)
}

// RFC 8461 §5.1: a changed id triggers a fetch of the new policy, once the
// re-check interval has passed.
func TestSection5_1IDChangeRefetches(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	first := e.decide("example.com")

	e.w.PolicyDomain("example.com", testingPolicy) // new id
	e.clk.Advance(resolver.DefaultRecheckInterval / 2)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceCache) // within the interval
	e.clk.Advance(resolver.DefaultRecheckInterval / 2)
	d := e.decide("example.com")
	e.want(d, resolver.Testing, resolver.SourceFetch)
	if d.ID == first.ID || d.ID != e.w.PolicyID("example.com") {
		t.Errorf("id %s, want the new id %s", d.ID, e.w.PolicyID("example.com"))
	}
	e.wantNetwork("example.com", 2, 2)
}

func TestSection5_1SameIDConfirmedWithoutFetch(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.decide("example.com")
	e.clk.Advance(time.Hour)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceCache)
	e.wantNetwork("example.com", 2, 1)
}

// A negative RecheckInterval compares the id on every decision.
func TestRecheckEveryDecision(t *testing.T) {
	e := newEnv(t, func(c *resolver.Config) { c.RecheckInterval = -1 })
	e.w.PolicyDomain("example.com", enforcePolicy)
	for range 3 {
		e.decide("example.com")
	}
	e.wantNetwork("example.com", 3, 1)
}

// RFC 8461 §5.1, §3.3: a failed fetch of a new policy never replaces the
// valid cached one, and is not retried for the same id within 5 minutes.
func TestSection5_1FetchFailureKeepsCache(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	old := e.decide("example.com")
	e.w.PolicyDomain("example.com", testingPolicy)
	e.breakPolicyHost("example.com")

	e.clk.Advance(resolver.DefaultRecheckInterval)
	d := e.decide("example.com")
	e.want(d, resolver.Enforce, resolver.SourceStale)
	if d.ID != old.ID {
		t.Errorf("id %s, want the cached %s", d.ID, old.ID)
	}
	e.clk.Advance(resolver.DefaultRecheckInterval)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceStale)
	e.wantNetwork("example.com", 3, 2) // no retry for the same id within 5 minutes (RFC 8461 §3.3)
	e.setPolicyBody("example.com", testingPolicy)
	e.clk.Advance(resolver.MinFetchRetry)
	e.want(e.decide("example.com"), resolver.Testing, resolver.SourceFetch)
}

// RFC 8461 §5.1: a missing TXT record alone never erases a cached policy;
// the policy ends when its max_age does.
func TestSection5_1MissingRecordKeepsCacheUntilExpiry(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.decide("example.com")
	e.w.DNS.Remove("_mta-sts.example.com", dns.TypeTXT)
	e.clk.Advance(time.Hour)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceStale)
	e.clk.Advance(7 * 24 * time.Hour)
	e.want(e.decide("example.com"), resolver.NoPolicy, resolver.SourceDNS)
}

// RFC 8461 §3.3: a valid record but a failed fetch, with nothing cached,
// is delivery as without a policy; the failure is remembered for 5
// minutes for that id.
func TestSection3_3FetchFailureNegativeCache5Minutes(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.w.HTTPSHost("mta-sts.example.com").SetCert(e.w.CA.Expired(t, "mta-sts.example.com"))

	e.want(e.decide("example.com"), resolver.NoPolicy, resolver.SourceFetch)
	e.w.HTTPSHost("mta-sts.example.com").SetCert(e.w.CA.Valid(t, "mta-sts.example.com"))
	e.clk.Advance(5*time.Minute - time.Second)
	e.want(e.decide("example.com"), resolver.NoPolicy, resolver.SourceNegative)
	e.wantNetwork("example.com", 1, 0) // the expired certificate stopped the fetch before HTTP
	e.clk.Advance(time.Second)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceFetch)
}

// FetchRetry below the RFC's 5 minutes is raised to them.
func TestSection3_3FetchRetryAtLeast5Minutes(t *testing.T) {
	e := newEnv(t, func(c *resolver.Config) { c.FetchRetry = time.Second })
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.breakPolicyHost("example.com")
	e.decide("example.com")
	e.clk.Advance(4 * time.Minute)
	e.want(e.decide("example.com"), resolver.NoPolicy, resolver.SourceNegative)
}

// RFC 8461 §3.1: no record is no policy, remembered for NegativeTTL.
func TestSection3_1NoRecordNegativeCache(t *testing.T) {
	e := newEnv(t)
	e.want(e.decide("plain.example"), resolver.NoPolicy, resolver.SourceDNS)
	e.clk.Advance(resolver.DefaultNegativeTTL - time.Second)
	e.want(e.decide("plain.example"), resolver.NoPolicy, resolver.SourceNegative)
	e.wantNetwork("plain.example", 1, 0)
	e.w.PolicyDomain("plain.example", enforcePolicy)
	e.clk.Advance(time.Second)
	e.want(e.decide("plain.example"), resolver.Enforce, resolver.SourceFetch)
}

// RFC 8461 §3.1: records that are not exactly one valid "v=STSv1;" record
// are no record.
func TestSection3_1InvalidRecords(t *testing.T) {
	e := newEnv(t)
	e.w.DNS.TXT("_mta-sts.two.example", "v=STSv1; id=1;")
	e.w.DNS.TXT("_mta-sts.two.example", "v=STSv1; id=2;")
	e.w.DNS.TXT("_mta-sts.bad.example", "v=STSv1; id=not_valid;")
	e.w.DNS.TXT("_mta-sts.other.example", "v=spf1 -all")
	for _, d := range []string{"two.example", "bad.example", "other.example"} {
		e.want(e.decide(d), resolver.NoPolicy, resolver.SourceDNS)
	}
}

// Decide gives up when the caller's context ends; the lookup goes on for
// the others.
func TestContextCanceled(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.w.DNS.SetDelay("_mta-sts.example.com", dns.TypeTXT, 300*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	d, err := e.r.Decide(ctx, "example.com")
	if !errors.Is(err, context.DeadlineExceeded) || d.Kind != resolver.Tempfail {
		t.Fatalf("Decide = %s, %v; want tempfail and the context's error", d.Kind, err)
	}
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceFetch)
	e.wantNetwork("example.com", 1, 1) // the abandoned lookup completed for the next caller
}

// Known trap: IP addresses and duplicates in mx are not passed on; case
// and trailing dots are normalized; order is kept.
func TestMXPatternsUsable(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", "version: STSv1\nmode: enforce\nmx: MX2.Example.com.\nmx: 192.0.2.1\nmx: *.example.net\nmx: mx2.example.com\nmx: mx1.example.com\nmax_age: 86400\n")
	d := e.decide("example.com")
	if diff := cmp.Diff([]string{"mx2.example.com", "*.example.net", "mx1.example.com"}, d.MX); diff != "" {
		t.Errorf("MX (-want +got):\n%s", diff)
	}
	if len(d.Policy.MX) != 5 {
		t.Errorf("Policy.MX = %v, want the policy as written", d.Policy.MX)
	}
}

func TestObserver(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.w.PolicyDomain("broken.example", enforcePolicy)
	e.breakPolicyHost("broken.example")
	e.decide("example.com")
	e.decide("example.com")
	e.decide("broken.example")
	e.obs.mu.Lock()
	defer e.obs.mu.Unlock()
	if n := e.obs.decisionKinds[resolver.Enforce]; n != 2 {
		t.Errorf("%d enforce decisions observed, want 2", n)
	}
	if len(e.obs.fetches) != 2 || e.obs.fetches[0] != nil || !errors.Is(e.obs.fetches[1], sts.ErrPolicyFetch) {
		t.Errorf("fetches observed: %v", e.obs.fetches)
	}
}

// Close cancels the network work under way and makes later lookups
// tempfail; cached policies are still answered.
func TestClose(t *testing.T) {
	e := newEnv(t)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.w.PolicyDomain("slow.example", enforcePolicy)
	e.decide("example.com")
	e.w.DNS.SetDelay("_mta-sts.slow.example", dns.TypeTXT, 5*time.Second)
	done := make(chan resolver.Decision)
	go func() {
		d, _ := e.r.Decide(context.Background(), "slow.example")
		done <- d
	}()
	time.Sleep(50 * time.Millisecond) // the lookup is under way
	start := time.Now()
	if err := e.r.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Close took %v; the lookup was not canceled", el)
	}
	e.want(<-done, resolver.Tempfail, resolver.SourceDNS)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceCache)
	e.want(e.decide("other.example"), resolver.Tempfail, resolver.SourceDNS)
}

// RFC 8460 §4.3.2.3: a failed fetch with nothing cached carries the
// TLS-RPT result type of the failure, from the fetch and then from the
// negative cache; a shared cache's failure seen by another process is
// sts-policy-fetch-error.
func TestFetchFailureResultType(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(e *env)
		want    tlsrpt.ResultType
	}{
		{"expired certificate", func(e *env) {
			e.w.HTTPSHost("mta-sts.example.com").SetCert(e.w.CA.Expired(t, "mta-sts.example.com"))
		}, tlsrpt.ResultSTSWebPKIInvalid},
		{"404", func(e *env) { e.breakPolicyHost("example.com") }, tlsrpt.ResultSTSPolicyFetchError},
		{"invalid policy", func(e *env) { e.setPolicyBody("example.com", "version: STSv1\nmode: sometimes\n") }, tlsrpt.ResultSTSPolicyInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.w.PolicyDomain("example.com", enforcePolicy)
			tc.breakIt(e)
			for _, src := range []resolver.Source{resolver.SourceFetch, resolver.SourceNegative} {
				d := e.decide("example.com")
				e.want(d, resolver.NoPolicy, src)
				if d.Failure.ResultType() != tc.want {
					t.Errorf("from %s: failure %q, want %q", src, d.Failure, tc.want)
				}
			}
			other, err := resolver.New(e.cfg) // another daemon over the same cache
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := other.Decide(t.Context(), "example.com"); d.Source != resolver.SourceNegative || d.Failure != resolver.FetchError {
				t.Errorf("another process: %s, failure %q", d.Source, d.Failure)
			}
		})
	}
	e := newEnv(t)
	if d := e.decide("nothing.example"); d.Failure != resolver.NoFetchFailure {
		t.Errorf("no record: failure %q, want none", d.Failure)
	}
	// A Decision is copied along every lookup: it stays under the size
	// at which Go copies with a loop on amd64.
	if n := unsafe.Sizeof(resolver.Decision{}); n >= 192 {
		t.Errorf("Decision has %d bytes; keep it under 192", n)
	}
}

// TestSourceText checks that every source has a name that reads back.
func TestSourceText(t *testing.T) {
	for s := resolver.SourceCache; s <= resolver.SourceOverload; s++ {
		b, err := s.MarshalText()
		var back resolver.Source
		if err != nil || len(b) == 0 || back.UnmarshalText(b) != nil || back != s {
			t.Errorf("source %d: %q, %v, read back as %d", s, b, err, back)
		}
	}
	var s resolver.Source
	if err := s.UnmarshalText([]byte("nowhere")); err == nil {
		t.Errorf("unknown source read")
	}
}
