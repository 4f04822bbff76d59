package tlsrptsend

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mtasts/mtasts/tlsrpt"
)

// Submitter is the organisation that sends reports (RFC 8460 §4.4).
type Submitter struct {
	OrganizationName string // "organization-name"
	ContactInfo      string // "contact-info": a mail address or URI
	// Domain is the submitter's domain: the first part of the file name
	// (§5.1), the TLS-Report-Submitter header (§5.3) and the right-hand
	// side of report ids.
	Domain string
}

// Built is one day's report for one policy domain, ready to deliver.
type Built struct {
	Report   *tlsrpt.Report
	Domain   string // the policy domain
	Gzip     []byte // the report as application/tlsrpt+gzip (RFC 8460 §6.5)
	Filename string // its file name (RFC 8460 §5.1)
}

// ErrIncomplete is wrapped by Build's errors when the outcomes lack what
// RFC 8460 §4.4 requires of a report.
var ErrIncomplete = errors.New("tlsrptsend: report incomplete")

// ReportID returns the report-id of the report of submitter about domain
// for the UTC day of day (RFC 8460 §4.4): unique per report, and the same
// whenever that report is built again, so that a receiver can tell a
// repeated delivery. It has the form of a Message-ID, "20261207.domain@submitter".
func ReportID(submitter, domain string, day time.Time) string {
	return Day(day).Format("20060102") + "." + normalDomain(domain) + "@" + normalDomain(submitter)
}

// Build makes the report of RFC 8460 §4 about domain for the UTC day of
// day from its policy results (Aggregator.Results), renders it gzipped
// and names it per §5.1. The date range runs from midnight UTC to
// 23:59:59 (§4.1, §4.4).
//
// Build refuses, with an error wrapping ErrIncomplete, what the RFC
// requires and the results lack: organization-name, contact-info, the
// submitter domain, a policy-domain and policy-type, policy-string for an
// sts or tlsa policy, a result type, the sending MTA's IP and the
// receiving IP of every failure detail (but sts-policy-* and
// sts-webpki-invalid, where no session was made).
func Build(s Submitter, day time.Time, domain string, results []tlsrpt.PolicyResult) (*Built, error) {
	if err := checkSubmitter(s); err != nil {
		return nil, err
	}
	domain = normalDomain(domain)
	if domain == "" {
		return nil, fmt.Errorf("%w: no policy domain", ErrIncomplete)
	}
	if len(results) == 0 {
		return nil, fmt.Errorf("%w: no outcomes for %s", ErrIncomplete, domain)
	}
	for i, pr := range results {
		if err := checkPolicyResult(pr); err != nil {
			return nil, fmt.Errorf("report for %s, policy %d: %w", domain, i, err)
		}
	}
	start := Day(day)
	rep := &tlsrpt.Report{
		OrganizationName: s.OrganizationName,
		DateRange:        tlsrpt.DateRange{Start: start, End: start.Add(24*time.Hour - time.Second)},
		ContactInfo:      s.ContactInfo,
		ReportID:         ReportID(s.Domain, domain, start),
		Policies:         results,
	}
	gz, err := tlsrpt.RenderGzip(rep)
	if err != nil {
		return nil, fmt.Errorf("tlsrptsend: rendering the report for %s: %w", domain, err)
	}
	return &Built{
		Report:   rep,
		Domain:   domain,
		Gzip:     gz,
		Filename: tlsrpt.FilenameFor(s.Domain, domain, rep.DateRange.Start, rep.DateRange.End, ""),
	}, nil
}

func checkSubmitter(s Submitter) error {
	switch {
	case strings.TrimSpace(s.OrganizationName) == "":
		return fmt.Errorf("%w: no organization-name (RFC 8460 §4.4)", ErrIncomplete)
	case strings.TrimSpace(s.ContactInfo) == "":
		return fmt.Errorf("%w: no contact-info (RFC 8460 §4.4)", ErrIncomplete)
	case normalDomain(s.Domain) == "":
		return fmt.Errorf("%w: no submitter domain (RFC 8460 §5.1)", ErrIncomplete)
	}
	return nil
}

// policyUnknown reports whether the policy of pr could not be had at all:
// every session failed to get it (RFC 8460 §4.3.2: the policy host is
// unreachable, its certificate invalid, or the policy invalid), so that
// there is no policy-string to give.
func policyUnknown(pr tlsrpt.PolicyResult) bool {
	if pr.Summary.Successful > 0 || len(pr.FailureDetails) == 0 {
		return false
	}
	for _, fd := range pr.FailureDetails {
		if !noSession(fd.ResultType) {
			return false
		}
	}
	return true
}

// noSession reports whether a failure of result type rt happened before
// any session with an MX host: a failure to get the policy.
func noSession(rt tlsrpt.ResultType) bool {
	return strings.HasPrefix(string(rt), "sts-policy-") || rt == tlsrpt.ResultSTSWebPKIInvalid
}

func checkPolicyResult(pr tlsrpt.PolicyResult) error {
	p := pr.Policy
	switch {
	case p.Domain == "":
		return fmt.Errorf("%w: no policy-domain (RFC 8460 §4.4)", ErrIncomplete)
	case !p.Type.Known():
		return fmt.Errorf("%w: policy-type %q (RFC 8460 §4.4)", ErrIncomplete, p.Type)
	case p.Type != tlsrpt.PolicyNoPolicyFound && len(p.Strings) == 0 && !policyUnknown(pr):
		return fmt.Errorf("%w: no policy-string for a %s policy (RFC 8460 §4.4)", ErrIncomplete, p.Type)
	}
	var failed int64
	for _, fd := range pr.FailureDetails {
		switch {
		case !fd.ResultType.Known():
			return fmt.Errorf("%w: result-type %q (RFC 8460 §4.3)", ErrIncomplete, fd.ResultType)
		case !fd.SendingMTAIP.IsValid():
			return fmt.Errorf("%w: %s failure without sending-mta-ip (RFC 8460 §4.4)", ErrIncomplete, fd.ResultType)
		case !noSession(fd.ResultType) && !fd.ReceivingIP.IsValid():
			return fmt.Errorf("%w: %s failure without receiving-ip (RFC 8460 §4.4)", ErrIncomplete, fd.ResultType)
		case fd.FailedSessionCount < 0:
			return fmt.Errorf("%w: negative failed-session-count", ErrIncomplete)
		}
		failed += fd.FailedSessionCount
	}
	if pr.Summary.Successful < 0 || pr.Summary.Failed < 0 || len(pr.FailureDetails) > 0 && pr.Summary.Failed != failed {
		return fmt.Errorf("%w: summary %+v does not add up to the %d failed sessions of the details", ErrIncomplete, pr.Summary, failed)
	}
	return nil
}
