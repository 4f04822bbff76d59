package reportsbench

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/mtasts/mtasts/tlsrpt"
)

var (
	orgs = []struct{ name, contact string }{
		{"Google Inc.", "smtp-tls-reporting@google.com"},
		{"Microsoft Corporation", "tlsrpt-noreply@microsoft.com"},
		{"Mail.Ru", "tlsrpt@corp.mail.ru"},
		{"Yahoo", "tlsrpt@yahooinc.com"},
		{"Comcast", "tlsrpt@comcast.net"},
	}
	resultTypes = []tlsrpt.ResultType{tlsrpt.ResultCertificateExpired, tlsrpt.ResultCertificateHostMismatch,
		tlsrpt.ResultSTARTTLSNotSupported, tlsrpt.ResultValidationFailure, tlsrpt.ResultSTSPolicyFetchError, tlsrpt.ResultTLSAInvalid}
	benchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// genReport returns the i-th report of a reproducible mix: most with one
// policy and no or few failures, some with a few dozen failure details,
// one in fifty with hundreds (a sender that sees a broken MX from many
// IPs). 200 domains, five organisations, one report per organisation,
// domain and day, so every report is new.
func genReport(rng *rand.Rand, i int) *tlsrpt.Report {
	org := orgs[i%len(orgs)]
	domain := fmt.Sprintf("domain%d.example", (i/len(orgs))%200)
	start := benchStart.AddDate(0, 0, i/(len(orgs)*200))
	rep := &tlsrpt.Report{
		OrganizationName: org.name, ContactInfo: org.contact,
		ReportID:  fmt.Sprintf("%s_%s_%d", start.Format(time.RFC3339), domain, i),
		DateRange: tlsrpt.DateRange{Start: start, End: start.Add(24*time.Hour - time.Second)},
	}
	policies := 1
	failures := 0
	switch r := rng.IntN(100); {
	case r < 2:
		policies, failures = 3, 100+rng.IntN(200)
	case r < 25:
		policies, failures = 1+rng.IntN(2), 3+rng.IntN(30)
	case r < 60:
		failures = rng.IntN(3)
	}
	for p := range policies {
		pr := tlsrpt.PolicyResult{Policy: tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: domain,
			Strings: []string{"version: STSv1", "mode: testing", "mx: mx1." + domain, "mx: *.mx." + domain, "max_age: 604800"},
			MXHosts: []string{"mx1." + domain, "*.mx." + domain}}}
		if p == 1 {
			pr.Policy = tlsrpt.Policy{Type: tlsrpt.PolicyTLSA, Domain: domain, MXHosts: []string{"mx1." + domain},
				Strings: []string{"3 1 1 8F2C4E1A9B7D3C5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6"}}
		}
		pr.Summary.Successful = int64(rng.IntN(5000))
		for f := range failures / policies {
			n := int64(1 + rng.IntN(20))
			pr.Summary.Failed += n
			pr.FailureDetails = append(pr.FailureDetails, tlsrpt.FailureDetail{
				ResultType:          resultTypes[rng.IntN(len(resultTypes))],
				SendingMTAIP:        netip.AddrFrom4([4]byte{198, 51, byte(f / 256), byte(f)}),
				ReceivingMXHostname: fmt.Sprintf("mx%d.%s", 1+rng.IntN(3), domain),
				ReceivingIP:         netip.AddrFrom4([4]byte{192, 0, 2, byte(rng.IntN(256))}),
				FailedSessionCount:  n,
				FailureReasonCode:   "X509_V_ERR_CERT_HAS_EXPIRED",
			})
		}
		rep.Policies = append(rep.Policies, pr)
	}
	return rep
}
