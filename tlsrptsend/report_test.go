package tlsrptsend

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mtasts/mtasts/tlsrpt"
)

var testSubmitter = Submitter{OrganizationName: "Sender Org", ContactInfo: "tlsrpt@sender.test", Domain: "sender.test"}

var stsPolicy = tlsrpt.Policy{
	Type:    tlsrpt.PolicySTS,
	Strings: []string{"version: STSv1", "mode: enforce", "mx: *.example.com", "max_age: 86400"},
	Domain:  "example.com",
	MXHosts: []string{"*.example.com"},
}

// parseBack reads a built report with tlsrpt.Parse, which must find
// nothing to say about it, and must give back the report built.
func parseBack(t *testing.T, b *Built) {
	t.Helper()
	rep, diags, err := tlsrpt.Parse(bytes.NewReader(b.Gzip), tlsrpt.ParseOptions{})
	if err != nil {
		t.Fatalf("tlsrpt.Parse: %v", err)
	}
	if len(diags) != 0 {
		t.Errorf("tlsrpt.Parse diagnostics: %v", diags)
	}
	if diff := cmp.Diff(b.Report, rep, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("report read back (-built +parsed):\n%s", diff)
	}
}

func TestBuild(t *testing.T) {
	day := time.Date(2026, 12, 7, 15, 4, 5, 0, time.UTC)
	at := func(h int) time.Time { return time.Date(2026, 12, 7, h, 0, 0, 0, time.UTC) }
	mx1, mx2 := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")
	sender := netip.MustParseAddr("198.51.100.1")
	a := NewAggregator()
	for _, o := range []Outcome{
		{Time: at(1), Policy: stsPolicy, MXHost: "mx1.example.com", ReceivingIP: mx1, SendingIP: sender},
		{Time: at(2), Policy: stsPolicy, MXHost: "MX1.example.com.", ReceivingIP: mx1, SendingIP: sender},
		{Time: at(3), Policy: stsPolicy, MXHost: "mx2.example.com", ReceivingIP: mx2, SendingIP: sender, Result: tlsrpt.ResultCertificateExpired, AdditionalInfo: "certificate has expired"},
		{Time: at(4), Policy: stsPolicy, MXHost: "mx2.example.com", ReceivingIP: mx2, SendingIP: sender, Result: tlsrpt.ResultCertificateExpired, AdditionalInfo: "certificate has expired"},
		{Time: at(5), Policy: stsPolicy, MXHost: "mx1.example.com", ReceivingIP: mx1, SendingIP: sender, Result: tlsrpt.ResultSTARTTLSNotSupported},
		// Another policy of the same domain the same day (the policy
		// changed): its own element of "policies".
		{Time: at(6), Policy: tlsrpt.Policy{Type: tlsrpt.PolicyNoPolicyFound, Domain: "example.com"}, MXHost: "mx1.example.com", ReceivingIP: mx1, SendingIP: sender},
		{Time: at(7), Policy: stsPolicy, Result: tlsrpt.ResultSTSPolicyFetchError, SendingIP: sender},
		// Other days and domains stay out.
		{Time: at(7).Add(-24 * time.Hour), Policy: stsPolicy, MXHost: "mx1.example.com", ReceivingIP: mx1, SendingIP: sender},
		{Time: at(8), Policy: tlsrpt.Policy{Type: tlsrpt.PolicyNoPolicyFound, Domain: "other.test"}, MXHost: "mx.other.test", ReceivingIP: mx1, SendingIP: sender},
	} {
		a.Record(o)
	}
	if got := a.Domains(day); !cmp.Equal(got, []string{"example.com", "other.test"}) {
		t.Errorf("Domains = %q", got)
	}
	b, err := Build(testSubmitter, day, "Example.COM.", a.Results(day, "example.com"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	want := &tlsrpt.Report{
		OrganizationName: "Sender Org",
		DateRange:        tlsrpt.DateRange{Start: start, End: start.Add(24*time.Hour - time.Second)},
		ContactInfo:      "tlsrpt@sender.test",
		ReportID:         "20261207.example.com@sender.test",
		Policies: []tlsrpt.PolicyResult{
			{Policy: tlsrpt.Policy{Type: tlsrpt.PolicyNoPolicyFound, Domain: "example.com"}, Summary: tlsrpt.Summary{Successful: 1}},
			{Policy: stsPolicy, Summary: tlsrpt.Summary{Successful: 2, Failed: 4}, FailureDetails: []tlsrpt.FailureDetail{
				{ResultType: tlsrpt.ResultCertificateExpired, SendingMTAIP: sender, ReceivingMXHostname: "mx2.example.com", ReceivingIP: mx2, FailedSessionCount: 2, AdditionalInformation: "certificate has expired"},
				{ResultType: tlsrpt.ResultSTARTTLSNotSupported, SendingMTAIP: sender, ReceivingMXHostname: "mx1.example.com", ReceivingIP: mx1, FailedSessionCount: 1},
				{ResultType: tlsrpt.ResultSTSPolicyFetchError, SendingMTAIP: sender, FailedSessionCount: 1},
			}},
		},
	}
	if diff := cmp.Diff(want, b.Report, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if wantName := fmt.Sprintf("sender.test!example.com!%d!%d.json.gz", start.Unix(), start.Unix()+86399); b.Filename != wantName {
		t.Errorf("file name %q, want %q", b.Filename, wantName)
	}
	if _, err := tlsrpt.ParseFilename(b.Filename); err != nil {
		t.Error(err)
	}
	parseBack(t, b)
	again, err := Build(testSubmitter, day.Add(5*time.Hour), "example.com", a.Results(day, "example.com"))
	if err != nil || again.Report.ReportID != b.Report.ReportID {
		t.Errorf("report-id changed when built again: %v %v", again, err)
	}
	a.Forget(day)
	if got := a.Domains(day); len(got) != 0 {
		t.Errorf("after Forget: %q", got)
	}
}

func TestBuildIncomplete(t *testing.T) {
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	ip := netip.MustParseAddr("192.0.2.1")
	ok := tlsrpt.PolicyResult{Policy: stsPolicy, Summary: tlsrpt.Summary{Successful: 1}}
	detail := func(fd tlsrpt.FailureDetail) []tlsrpt.PolicyResult {
		return []tlsrpt.PolicyResult{{Policy: stsPolicy, Summary: tlsrpt.Summary{Failed: fd.FailedSessionCount}, FailureDetails: []tlsrpt.FailureDetail{fd}}}
	}
	for name, tc := range map[string]struct {
		s       Submitter
		domain  string
		results []tlsrpt.PolicyResult
	}{
		"no organization":  {Submitter{ContactInfo: "a@b", Domain: "b"}, "example.com", []tlsrpt.PolicyResult{ok}},
		"no contact":       {Submitter{OrganizationName: "x", Domain: "b"}, "example.com", []tlsrpt.PolicyResult{ok}},
		"no submitter":     {Submitter{OrganizationName: "x", ContactInfo: "a@b"}, "example.com", []tlsrpt.PolicyResult{ok}},
		"no domain":        {testSubmitter, "", []tlsrpt.PolicyResult{ok}},
		"no results":       {testSubmitter, "example.com", nil},
		"no policy string": {testSubmitter, "example.com", []tlsrpt.PolicyResult{{Policy: tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: "example.com"}}}},
		"unknown type":     {testSubmitter, "example.com", []tlsrpt.PolicyResult{{Policy: tlsrpt.Policy{Type: "x", Domain: "example.com"}}}},
		"no sending ip":    {testSubmitter, "example.com", detail(tlsrpt.FailureDetail{ResultType: tlsrpt.ResultCertificateExpired, ReceivingIP: ip, FailedSessionCount: 1})},
		"no receiving ip":  {testSubmitter, "example.com", detail(tlsrpt.FailureDetail{ResultType: tlsrpt.ResultCertificateExpired, SendingMTAIP: ip, FailedSessionCount: 1})},
		"unknown result":   {testSubmitter, "example.com", detail(tlsrpt.FailureDetail{ResultType: "nope", SendingMTAIP: ip, ReceivingIP: ip, FailedSessionCount: 1})},
		"counts disagree": {testSubmitter, "example.com", []tlsrpt.PolicyResult{{Policy: stsPolicy, Summary: tlsrpt.Summary{Failed: 2}, FailureDetails: []tlsrpt.FailureDetail{
			{ResultType: tlsrpt.ResultCertificateExpired, SendingMTAIP: ip, ReceivingIP: ip, FailedSessionCount: 1}}}}},
	} {
		if _, err := Build(tc.s, day, tc.domain, tc.results); !errors.Is(err, ErrIncomplete) {
			t.Errorf("%s: error %v, want ErrIncomplete", name, err)
		}
	}
}

// TestBuildRandomOutcomes is a property test: whatever the outcomes, the
// report built from them reads back with tlsrpt.Parse identically and
// without a diagnostic, and its counts are the outcomes'.
func TestBuildRandomOutcomes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	policies := []tlsrpt.Policy{
		stsPolicy,
		{Type: tlsrpt.PolicySTS, Strings: []string{"version: STSv1", "mode: testing", "mx: mx.example.com", "max_age: 600"}, Domain: "example.com", MXHosts: []string{"mx.example.com"}},
		{Type: tlsrpt.PolicyNoPolicyFound, Domain: "example.com"},
	}
	ips := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::3")}
	for round := range 200 {
		a := NewAggregator()
		n := 1 + r.IntN(300)
		var ok, failed int64
		for range n {
			o := Outcome{
				Time:        day.Add(time.Duration(r.Int64N(int64(24 * time.Hour)))),
				Policy:      policies[r.IntN(len(policies))],
				MXHost:      fmt.Sprintf("mx%d.example.com", r.IntN(3)),
				ReceivingIP: ips[r.IntN(len(ips))],
				SendingIP:   ips[r.IntN(len(ips))],
			}
			if r.IntN(3) == 0 {
				o.Result = tlsrpt.ResultTypes[r.IntN(len(tlsrpt.ResultTypes))]
				o.AdditionalInfo = []string{"", "some text", "https://example.com/x"}[r.IntN(3)]
				failed++
			} else {
				ok++
			}
			a.Record(o)
		}
		b, err := Build(testSubmitter, day, "example.com", a.Results(day, "example.com"))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if tot := b.Report.Totals(); tot.Successful != ok || tot.Failed != failed {
			t.Fatalf("round %d: totals %+v, want %d ok and %d failed", round, tot, ok, failed)
		}
		parseBack(t, b)
		if t.Failed() {
			t.Fatalf("round %d", round)
		}
	}
}
