package tlsrpt_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/mtasts/mtasts/tlsrpt"
)

// A report as a real sender writes one (here with mx-host as a single
// string, erratum 6241, and no UTC offset on the dates), parsed
// tolerantly: what was read around is reported as diagnostics.
func ExampleParse() {
	const report = `{
  "organization-name": "Sender Org",
  "date-range": {"start-datetime": "2026-05-01T00:00:00Z", "end-datetime": "2026-05-01T23:59:59"},
  "contact-info": "tlsrpt@sender.example",
  "report-id": "2026-05-01_example.net",
  "policies": [{
    "policy": {"policy-type": "sts", "policy-domain": "example.net", "mx-host": "mx1.example.net",
      "policy-string": ["version: STSv1", "mode: enforce", "mx: mx1.example.net", "max_age: 604800"]},
    "summary": {"total-successful-session-count": 40, "total-failure-session-count": 5},
    "failure-details": [{"result-type": "certificate-expired", "receiving-mx-hostname": "mx1.example.net",
      "sending-mta-ip": "192.0.2.10", "receiving-ip": "198.51.100.25", "failed-session-count": 5}]
  }]
}`
	rep, diags, err := tlsrpt.Parse(strings.NewReader(report), tlsrpt.ParseOptions{})
	if err != nil {
		log.Fatal(err)
	}
	day, _ := rep.DateRange.Day()
	fmt.Println(rep.OrganizationName, day.Format("2006-01-02"), rep.Totals())
	for _, p := range rep.Policies {
		fmt.Println(p.Policy.Type, p.Policy.Domain, p.Policy.MXHosts)
		for _, f := range p.FailureDetails {
			fmt.Println(" ", f.ResultType, f.ReceivingMXHostname, f.FailedSessionCount)
		}
	}
	for _, d := range diags {
		fmt.Println(d.Code)
	}
	// Output:
	// Sender Org 2026-05-01 {40 5}
	// sts example.net [mx1.example.net]
	//   certificate-expired mx1.example.net 5
	// time-without-zone
	// mx-host-string
}
