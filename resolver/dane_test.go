package resolver_test

import (
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/resolver"
)

const tlsaData = "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// withDANE turns DANE detection on, asking the world's DNS server.
func withDANE(c *resolver.Config) {
	dc := c.DNS.(*dnsx.Client)
	c.DANE = resolver.NewDANEResolver(dc)
}

// RFC 8461 §2: MTA-STS never overrides DANE. A domain whose MX hosts have
// DNSSEC-authenticated TLSA records is answered "dane", policy or not.
func TestSection2DANEGoverns(t *testing.T) {
	e := newEnv(t, withDANE)
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.w.DNS.Add("example.com. MX 10 mx1.example.com.", "example.com. MX 20 mx2.example.com.",
		"_25._tcp.mx2.example.com. TLSA "+tlsaData)
	e.w.DNS.SetAuthenticated("example.com", true)
	e.w.DNS.SetAuthenticated("_25._tcp.mx1.example.com", true) // authenticated denial
	e.w.DNS.SetAuthenticated("_25._tcp.mx2.example.com", true)

	d := e.decide("example.com")
	e.want(d, resolver.DANE, resolver.SourceDNS)
	if e.fetches("example.com") != 0 {
		t.Error("the MTA-STS policy was fetched for a DANE domain")
	}
	// The verdict is remembered for the re-check interval.
	e.decide("example.com")
	if n := e.w.DNS.Queries("example.com", dns.TypeMX); n != 1 {
		t.Errorf("%d MX queries, want 1", n)
	}
	e.clk.Advance(resolver.DefaultRecheckInterval)
	e.decide("example.com")
	if n := e.w.DNS.Queries("example.com", dns.TypeMX); n != 2 {
		t.Errorf("%d MX queries after the re-check interval, want 2", n)
	}
}

// Without DNSSEC authentication, TLSA records mean nothing (RFC 7672
// §2.2) and MTA-STS decides.
func TestSection2DANENeedsAuthentication(t *testing.T) {
	cases := map[string]func(e *env){
		"MX not authenticated": func(e *env) {
			e.w.DNS.SetAuthenticated("_25._tcp.mx1.example.com", true)
		},
		"TLSA not authenticated": func(e *env) {
			e.w.DNS.SetAuthenticated("example.com", true)
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, withDANE)
			e.w.PolicyDomain("example.com", enforcePolicy)
			e.w.DNS.Add("example.com. MX 10 mx1.example.com.", "_25._tcp.mx1.example.com. TLSA "+tlsaData)
			setup(e)
			e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceFetch)
		})
	}
}

// A domain without MX records is its own MX (RFC 5321 §5.1); a TLSA
// lookup that fails for a host of an authenticated MX RRset leaves the
// decision to DANE; a failed MX lookup leaves it to MTA-STS.
func TestSection2DANEEdgeCases(t *testing.T) {
	e := newEnv(t, withDANE)
	e.w.DNS.Add("implicit.example. A 127.0.0.1", "_25._tcp.implicit.example. TLSA "+tlsaData)
	e.w.DNS.SetAuthenticated("implicit.example", true)
	e.w.DNS.SetAuthenticated("_25._tcp.implicit.example", true)
	e.want(e.decide("implicit.example"), resolver.DANE, resolver.SourceDNS)

	e.w.DNS.Add("failing.example. MX 10 mx.failing.example.")
	e.w.DNS.SetAuthenticated("failing.example", true)
	e.w.DNS.SetRcode("_25._tcp.mx.failing.example", dns.TypeTLSA, dns.RcodeServerFailure)
	e.want(e.decide("failing.example"), resolver.DANE, resolver.SourceDNS)

	e.w.PolicyDomain("mxfail.example", enforcePolicy)
	e.w.DNS.SetRcode("mxfail.example", dns.TypeMX, dns.RcodeServerFailure)
	e.want(e.decide("mxfail.example"), resolver.Enforce, resolver.SourceFetch)
	e.w.DNS.SetRcode("mxfail.example", dns.TypeMX, dns.RcodeSuccess)
	e.clk.Advance(time.Second)
	e.decide("mxfail.example")
	if n := e.w.DNS.Queries("mxfail.example", dns.TypeMX); n != 2 {
		t.Errorf("%d MX queries: a failed DANE check must not be remembered", n)
	}
}

func TestValidatesDNSSEC(t *testing.T) {
	e := newEnv(t)
	dc := e.cfg.DNS.(*dnsx.Client)
	if ok, err := resolver.ValidatesDNSSEC(t.Context(), dc); ok || err != nil {
		t.Errorf("without AD: %v, %v; want false", ok, err)
	}
	e.w.DNS.SetAuthenticated(".", true)
	if ok, err := resolver.ValidatesDNSSEC(t.Context(), dc); !ok || err != nil {
		t.Errorf("with AD: %v, %v; want true", ok, err)
	}
	e.w.DNS.SetRcode(".", dns.TypeNS, dns.RcodeServerFailure)
	if _, err := resolver.ValidatesDNSSEC(t.Context(), dc); err == nil {
		t.Error("SERVFAIL: no error")
	}
}
