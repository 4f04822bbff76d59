package rollout

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mtasts/mtasts/check"
)

// TestLiveMX checks how the check's findings and facts judge each live MX
// host against the served policy.
func TestLiveMX(t *testing.T) {
	tls := &check.TLSFacts{Version: "TLS 1.3"}
	res := &check.Result{
		Facts: check.Facts{MX: check.MXFacts{Probed: true, Hosts: []check.MXHostFacts{
			{Host: "mx1.example.com", Addresses: []check.AddressFacts{{IP: "192.0.2.1", STARTTLS: true, TLS: tls}}},
			{Host: "mx2.example.com", Addresses: []check.AddressFacts{{IP: "192.0.2.2", STARTTLS: true, TLS: tls}}},
			{Host: "mx3.example.com", Addresses: []check.AddressFacts{{IP: "192.0.2.3", Error: "connection refused"}}},
			{Host: "other.example.net", Addresses: []check.AddressFacts{{IP: "192.0.2.4", STARTTLS: true, TLS: tls}}},
		}}},
		Findings: []check.Finding{
			{Code: "mx-cert-expired", Subject: "mx2.example.com [192.0.2.2]", Message: "expired 2 days ago"},
			{Code: "mx-cert-expiring", Subject: "mx1.example.com [192.0.2.1]", Message: "expires in 20 days"},
			{Code: "mx-not-covered", Subject: "mx1.example.com", Message: "not in the published policy"},
		},
	}
	got := liveMX(res, ServedPolicy{MX: []string{"mx1.example.com", "*.example.com"}})
	want := []LiveMX{
		{Host: "mx1.example.com", Covered: true},
		{Host: "mx2.example.com", Covered: true, Problems: []string{"mx-cert-expired: expired 2 days ago"}},
		{Host: "mx3.example.com", Covered: true, Problems: []string{"not-verified: no address of mx3.example.com completed STARTTLS and a TLS handshake (192.0.2.3: connection refused)"}},
		{Host: "other.example.net", Covered: false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("liveMX (-want +got):\n%s", diff)
	}
}
