package deliver_test

import (
	"errors"
	"testing"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/deliver"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/tlsrpt"
)

// A temporary DNS failure is not the absence of a record (RFC 8461 §5,
// RFC 5321 §5.1): when the TXT record or the MX records cannot be looked
// up, Send defers the mail (ErrTemporary) and connects to nothing, neither
// without a policy nor to the domain as its implicit MX.
func TestSendDNSFailureIsTemporary(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy bool // publish an enforce policy
		fail   func(w *testworld.World)
		kind   resolver.Kind // the decision Send must report
	}{
		{"RFC8461_3.1_TXT_SERVFAIL", true, func(w *testworld.World) {
			w.DNS.SetRcode("_mta-sts.example.com", dns.TypeTXT, dns.RcodeServerFailure)
		}, resolver.Tempfail},
		{"RFC8461_3.1_TXT_timeout", true, func(w *testworld.World) {
			w.DNS.Drop("_mta-sts.example.com", dns.TypeTXT)
		}, resolver.Tempfail},
		{"RFC5321_5.1_MX_SERVFAIL_under_enforce", true, func(w *testworld.World) {
			w.DNS.SetRcode("example.com", dns.TypeMX, dns.RcodeServerFailure)
		}, resolver.Enforce},
		{"RFC5321_5.1_MX_timeout_under_enforce", true, func(w *testworld.World) {
			w.DNS.Drop("example.com", dns.TypeMX)
		}, resolver.Enforce},
		{"RFC5321_5.1_MX_SERVFAIL_without_policy", false, func(w *testworld.World) {
			w.DNS.SetRcode("example.com", dns.TypeMX, dns.RcodeServerFailure)
		}, resolver.NoPolicy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := testworld.New(t)
			w.DNS.Add("example.com. MX 10 mx1.example.com.")
			if tc.policy {
				w.PolicyDomain("example.com", enforcePolicy)
			}
			mx1 := w.SMTP("mx1.example.com", testworld.SMTPOptions{})
			apex := w.SMTP("example.com", testworld.SMTPOptions{}) // a wrong implicit MX
			tc.fail(w)
			res, err := send(t, newSender(t, w, fastDNS))
			checkErr(t, err, deliver.ErrTemporary)
			if errors.Is(err, deliver.ErrPermanent) {
				t.Errorf("Send error %v is also permanent", err)
			}
			if res.Decision.Kind != tc.kind {
				t.Errorf("decision %s (%s), want %s", res.Decision.Kind, res.Decision.Reason, tc.kind)
			}
			if len(res.Attempts) != 0 || res.ImplicitMX {
				t.Errorf("attempts %+v (implicit MX %v), want none", res.Attempts, res.ImplicitMX)
			}
			if len(mx1.Messages())+len(apex.Messages()) != 0 {
				t.Error("a message was delivered")
			}
		})
	}
}

// RFC 8461 §5.1: a cached enforce policy still applies when the TXT
// lookup fails: an MX host added meanwhile that the policy does not list
// is skipped, not handed the mail as if there were no policy.
func TestSendCachedPolicyOutlivesDNSFailure(t *testing.T) {
	w := testworld.New(t)
	w.DNS.Add("example.com. MX 10 mx1.example.com.")
	w.PolicyDomain("example.com", enforcePolicy)
	mx1 := w.SMTP("mx1.example.com", testworld.SMTPOptions{})
	rogue := w.SMTP("mx.attacker.test", testworld.SMTPOptions{})
	s := newSender(t, w, func(_ *dnsx.Config, rc *resolver.Config) { rc.RecheckInterval = -1 })
	if _, err := send(t, s); err != nil {
		t.Fatalf("first Send: %v", err)
	}

	w.DNS.SetRcode("_mta-sts.example.com", dns.TypeTXT, dns.RcodeServerFailure)
	w.DNS.Add("example.com. MX 5 mx.attacker.test.")
	res, err := send(t, s)
	checkErr(t, err, nil)
	if res.Decision.Kind != resolver.Enforce || res.Decision.Source != resolver.SourceStale {
		t.Errorf("decision %s from %s, want enforce from %s", res.Decision.Kind, res.Decision.Source, resolver.SourceStale)
	}
	checkAttempts(t, res, []want{
		{"mx.attacker.test", deliver.OutcomeSkipped, tlsrpt.ResultValidationFailure},
		{"mx1.example.com", deliver.OutcomeDelivered, ""},
	})
	if len(rogue.Messages()) != 0 || len(mx1.Messages()) != 2 {
		t.Errorf("rogue MX got %d messages, mx1 %d; want 0 and 2", len(rogue.Messages()), len(mx1.Messages()))
	}
}

// RFC 8461 §2: MTA-STS must not override DANE. This package does not
// implement DANE (RFC 7672): when the resolver says DANE governs (MX
// hosts with DNSSEC-authenticated TLSA records), Send defers the mail
// with ErrDANE, a temporary error, and connects to nothing. TLSA records
// without DNSSEC authentication mean nothing (RFC 7672 §2.2), and the
// MTA-STS policy applies.
func TestSendDANE(t *testing.T) {
	for _, tc := range []struct {
		name          string
		authenticated bool
		kind          resolver.Kind
		errIs         error
	}{
		{"RFC8461_2_DANE_defers", true, resolver.DANE, deliver.ErrDANE},
		{"RFC7672_2.2_unauthenticated_TLSA_is_ignored", false, resolver.Enforce, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := testworld.New(t)
			w.DNS.Add("example.com. MX 10 mx1.example.com.",
				"_25._tcp.mx1.example.com. TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
			w.PolicyDomain("example.com", enforcePolicy)
			w.DNS.SetAuthenticated("example.com", tc.authenticated)
			w.DNS.SetAuthenticated("_25._tcp.mx1.example.com", tc.authenticated)
			mx1 := w.SMTP("mx1.example.com", testworld.SMTPOptions{})
			s := newSender(t, w, func(dc *dnsx.Config, rc *resolver.Config) {
				c, err := dnsx.New(*dc)
				if err != nil {
					t.Fatal(err)
				}
				rc.DANE = resolver.NewDANEResolver(c)
			})
			res, err := send(t, s)
			checkErr(t, err, tc.errIs)
			if res.Decision.Kind != tc.kind {
				t.Errorf("decision %s (%s), want %s", res.Decision.Kind, res.Decision.Reason, tc.kind)
			}
			if tc.errIs == nil {
				checkAttempts(t, res, []want{{"mx1.example.com", deliver.OutcomeDelivered, ""}})
				return
			}
			if !errors.Is(err, deliver.ErrTemporary) {
				t.Errorf("Send error %v is not temporary", err)
			}
			if len(res.Attempts) != 0 || len(mx1.Messages()) != 0 {
				t.Errorf("attempts %+v, %d messages; want none", res.Attempts, len(mx1.Messages()))
			}
		})
	}
}
