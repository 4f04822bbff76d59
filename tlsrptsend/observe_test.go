package tlsrptsend

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mtasts/mtasts/deliver"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
)

// TestDeliverObserver: a Go program sends with deliver under an enforce
// policy; the first MX host's certificate has expired, the second takes
// the message. The observer turns the two sessions into one success and
// one certificate-expired failure with the host's name and IP (RFC 8460
// §4.3.2.1, §4.4), under the policy as fetched.
func TestDeliverObserver(t *testing.T) {
	w := testworld.New(t)
	const policy = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: mx2.example.com\nmax_age: 86400\n"
	w.DNS.Add("example.com. MX 10 mx1.example.com.", "example.com. MX 20 mx2.example.com.")
	w.PolicyDomain("example.com", policy)
	w.SMTP("mx1.example.com", testworld.SMTPOptions{Cert: w.CA.Expired(t, "mx1.example.com")})
	mx2 := w.SMTP("mx2.example.com", testworld.SMTPOptions{})

	dns, err := dnsx.New(dnsx.Config{Servers: []string{w.Resolver()}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{DNS: dns, Fetch: sts.FetchOptions{RootCAs: w.RootCAs(), DialContext: w.DialContext}})
	if err != nil {
		t.Fatal(err)
	}
	s := &deliver.Sender{Resolver: r, DNS: dns, Dial: w.DialContext, RootCAs: w.RootCAs(), HeloName: "sender.test", Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := s.Send(ctx, "a@sender.test", []string{"b@example.com"}, []byte("From: a@sender.test\r\nSubject: hi\r\n\r\nhi\r\n"))
	if err != nil || len(mx2.Messages()) != 1 {
		t.Fatalf("Send: %v, %d messages at mx2", err, len(mx2.Messages()))
	}

	agg := NewAggregator()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	sending := netip.MustParseAddr("192.0.2.1")
	(&DeliverObserver{Recorder: agg, SendingIP: sending, Now: func() time.Time { return now }}).Observe(res)

	pol, err := sts.ParsePolicy([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	mx1IP, _ := netip.AddrFromSlice(w.HostIP("mx1.example.com"))
	got := agg.Results(now, "example.com")
	want := []tlsrpt.PolicyResult{{
		Policy:  STSPolicy("example.com", pol),
		Summary: tlsrpt.Summary{Successful: 1, Failed: 1},
		FailureDetails: []tlsrpt.FailureDetail{{ResultType: tlsrpt.ResultCertificateExpired, SendingMTAIP: sending,
			ReceivingMXHostname: "mx1.example.com", ReceivingIP: mx1IP.Unmap(), FailedSessionCount: 1}},
	}}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.IgnoreFields(tlsrpt.FailureDetail{}, "AdditionalInformation")); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if got[0].FailureDetails[0].AdditionalInformation == "" {
		t.Error("the failure says nothing of why")
	}
	if want := []string{"version: STSv1", "mode: enforce", "mx: mx1.example.com", "mx: mx2.example.com", "max_age: 86400"}; !cmp.Equal(got[0].Policy.Strings, want) {
		t.Errorf("policy-string = %q, want %q", got[0].Policy.Strings, want)
	}
	if _, err := Build(testSubmitter, now, "example.com", got); err != nil {
		t.Errorf("Build of the observed outcomes: %v", err)
	}
}
