package tlsrpt

import (
	"math"
	"net/netip"
	"time"
)

// Report is an aggregate TLS report (RFC 8460 §4) in Go terms. Its JSON
// form is the RFC's wire format: see Parse and Render.
type Report struct {
	OrganizationName string    // "organization-name": who sends the report
	DateRange        DateRange // "date-range"
	ContactInfo      string    // "contact-info": usually a mail address
	ReportID         string    // "report-id": unique per sender
	Policies         []PolicyResult
}

// DateRange is the period a report covers (RFC 8460 §4.4), in UTC. End is
// as the sender wrote it: usually 23:59:59 of the day, sometimes 00:00:00
// of the next one.
type DateRange struct {
	Start time.Time // "start-datetime"
	End   time.Time // "end-datetime"
}

// Day returns the UTC day the range covers when it is one whole UTC day
// (RFC 8460 §4.1): Start is midnight UTC and End is between 23:59:59 of
// that day and midnight of the next, inclusive.
func (d DateRange) Day() (time.Time, bool) {
	start := d.Start.UTC()
	if !start.Equal(start.Truncate(24 * time.Hour)) {
		return time.Time{}, false
	}
	next := start.Add(24 * time.Hour)
	if d.End.Before(next.Add(-time.Second)) || d.End.After(next) {
		return time.Time{}, false
	}
	return start, true
}

// PolicyResult is one element of "policies" (RFC 8460 §4.4): the sessions
// to one policy domain under one policy.
type PolicyResult struct {
	Policy         Policy
	Summary        Summary
	FailureDetails []FailureDetail
}

// Policy is the policy a sender applied (RFC 8460 §4.4 "policy").
type Policy struct {
	Type PolicyType // "policy-type"
	// Strings is "policy-string": the lines of an MTA-STS policy, or one
	// TLSA record per element (RFC 8460 §4.4). Empty for no-policy-found.
	Strings []string
	Domain  string   // "policy-domain"
	MXHosts []string // "mx-host": the MX names or patterns of the policy
}

// Summary holds the session totals of one policy (RFC 8460 §4.4
// "summary").
type Summary struct {
	Successful int64 // "total-successful-session-count"
	Failed     int64 // "total-failure-session-count"
}

// FailureDetail counts failed sessions of one kind (RFC 8460 §4.4
// "failure-details"). Addresses the sender left out or wrote badly are the
// zero netip.Addr.
type FailureDetail struct {
	ResultType            ResultType // "result-type", RFC 8460 §4.3
	SendingMTAIP          netip.Addr // "sending-mta-ip"
	ReceivingMXHostname   string     // "receiving-mx-hostname"
	ReceivingMXHelo       string     // "receiving-mx-helo"
	ReceivingIP           netip.Addr // "receiving-ip"
	FailedSessionCount    int64      // "failed-session-count"
	AdditionalInformation string     // "additional-information": a URI, free text in practice
	FailureReasonCode     string     // "failure-reason-code": free text
}

// MaxSessionCount is the largest session count Parse accepts in a
// summary or a failure detail: 10^12, a thousand times more sessions than
// the largest mail providers make to one policy domain in a day. A report
// with a larger count is not a real sender's and Parse refuses it, so
// that sums over millions of reports still fit in an int64.
const MaxSessionCount = 1_000_000_000_000

// Totals sums the session counts over all policies of r, as Summary.Add
// does.
func (r *Report) Totals() Summary {
	var s Summary
	for _, p := range r.Policies {
		s = s.Add(p.Summary)
	}
	return s
}

// Add returns the sums of the counts of s and o. A sum that would exceed
// math.MaxInt64 is math.MaxInt64, so that sums of counts that did not
// come through Parse (stored before it refused absurd counts, or built in
// Go) never wrap around to negative numbers.
func (s Summary) Add(o Summary) Summary {
	return Summary{Successful: addCount(s.Successful, o.Successful), Failed: addCount(s.Failed, o.Failed)}
}

// Sessions is the number of sessions counted, Successful plus Failed,
// at most math.MaxInt64.
func (s Summary) Sessions() int64 { return addCount(s.Successful, s.Failed) }

// addCount adds two counts, saturating at math.MaxInt64 (and, for
// negative counts built in Go, at math.MinInt64).
func addCount(a, b int64) int64 {
	switch sum := a + b; {
	case a > 0 && b > 0 && sum < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && sum >= 0:
		return math.MinInt64
	default:
		return sum
	}
}

// MarshalJSON renders r in the wire format of RFC 8460 §4.4, as Render does.
func (r Report) MarshalJSON() ([]byte, error) { return Render(&r) }

// UnmarshalJSON reads r from the wire format of RFC 8460 §4.4 as tolerantly
// as Parse, discarding the diagnostics.
func (r *Report) UnmarshalJSON(data []byte) error {
	rep, _, err := parseJSON(data)
	if err != nil {
		return err
	}
	*r = *rep
	return nil
}
