package tlsrptsend_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mtasts/mtasts/tlsrpt"
	"github.com/mtasts/mtasts/tlsrptsend"
)

// Two sessions from a Postfix log, one verified and one with an expired
// certificate, become a day's report for example.com.
func Example() {
	log := `Dec  7 10:00:01 mail postfix/smtp[1201]: Verified TLS connection established to mx1.example.com[192.0.2.10]:25: TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)
Dec  7 10:00:01 mail postfix/smtp[1201]: 4DE5F9858B3: to=<bob@example.com>, relay=mx1.example.com[192.0.2.10]:25, delay=0.29, delays=0.09/0.06/0.14/0.02, dsn=2.0.0, status=sent (250 2.0.0 OK)
Dec  7 11:00:02 mail postfix/smtp[1202]: server certificate verification failed for mx2.example.com[192.0.2.11]:25: certificate has expired
Dec  7 11:00:02 mail postfix/smtp[1202]: Untrusted TLS connection established to mx2.example.com[192.0.2.11]:25: TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)
Dec  7 11:00:02 mail postfix/smtp[1202]: 5CAE49859E2: to=<carol@example.com>, relay=mx2.example.com[192.0.2.11]:25, delay=0.17, delays=0.03/0.13/0.01/0, dsn=4.7.5, status=deferred (Server certificate not verified)
`
	// What the enforce service answered for example.com.
	policies := tlsrptsend.PolicyMap{"example.com": {
		Type:    tlsrpt.PolicySTS,
		Strings: []string{"version: STSv1", "mode: enforce", "mx: *.example.com", "max_age: 86400"},
		Domain:  "example.com",
		MXHosts: []string{"*.example.com"},
	}}
	now := func() time.Time { return time.Date(2026, 12, 8, 0, 10, 0, 0, time.UTC) }
	parser := tlsrptsend.NewPostfixParser(policies, netip.MustParseAddr("198.51.100.1"), time.UTC, now)
	agg := tlsrptsend.NewAggregator()
	src := &tlsrptsend.PostfixLog{Parser: parser, Reader: strings.NewReader(log)}
	if err := src.Run(context.Background(), agg); err != nil {
		panic(err)
	}

	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	submitter := tlsrptsend.Submitter{OrganizationName: "Sender Org", ContactInfo: "tlsrpt@sender.example", Domain: "sender.example"}
	for _, domain := range agg.Domains(day) {
		b, err := tlsrptsend.Build(submitter, day, domain, agg.Results(day, domain))
		if err != nil {
			panic(err)
		}
		fmt.Println(b.Filename)
		fmt.Println(b.Report.ReportID)
		for _, pr := range b.Report.Policies {
			fmt.Printf("%s %s: %d ok, %d failed\n", pr.Policy.Type, pr.Policy.Domain, pr.Summary.Successful, pr.Summary.Failed)
			for _, fd := range pr.FailureDetails {
				fmt.Printf("  %s %s[%s] x%d\n", fd.ResultType, fd.ReceivingMXHostname, fd.ReceivingIP, fd.FailedSessionCount)
			}
		}
	}
	// Output:
	// sender.example!example.com!1796601600!1796687999.json.gz
	// 20261207.example.com@sender.example
	// sts example.com: 1 ok, 1 failed
	//   certificate-expired mx2.example.com[192.0.2.11] x1
}
