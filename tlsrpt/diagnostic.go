package tlsrpt

import "fmt"

// DiagnosticCode names one kind of deviation from RFC 8460 §4 that Parse
// tolerated. Codes are stable: tools may count and filter by them.
type DiagnosticCode string

// Deviations that Parse tolerates, each reported as a Diagnostic.
const (
	// DiagMissingField: a member the RFC asks for is absent, null or "":
	// organization-name or report-id (but not both), contact-info, policy,
	// policy-type, policy-domain, policy-string (except for
	// no-policy-found), summary, result-type.
	DiagMissingField DiagnosticCode = "missing-field"
	// DiagMissingIP: a failure detail lacks sending-mta-ip, or lacks
	// receiving-ip although the sender reached the MX (every result type
	// but sts-policy-*, sts-webpki-invalid); even the example of RFC 8460
	// Appendix B omits one. The address is the zero netip.Addr.
	DiagMissingIP DiagnosticCode = "missing-ip"
	// DiagWrongType: a member has a JSON type Parse cannot use; it is ignored.
	DiagWrongType DiagnosticCode = "wrong-type"
	// DiagMXHostString: mx-host is a string, not an array (the example of
	// RFC 8460 Appendix B, corrected by erratum 6241).
	DiagMXHostString DiagnosticCode = "mx-host-string"
	// DiagMXHostPrefixed: an mx-host entry keeps the "mx: " of the policy
	// line; the prefix is removed.
	DiagMXHostPrefixed DiagnosticCode = "mx-host-prefixed"
	// DiagPolicyStringEncoded: policy-string is one string holding a
	// JSON-encoded array, as some senders write TLSA policies; it is decoded.
	DiagPolicyStringEncoded DiagnosticCode = "policy-string-encoded"
	// DiagPolicyStringString: policy-string is a string, not an array; it is
	// split into lines.
	DiagPolicyStringString DiagnosticCode = "policy-string-string"
	// DiagUnknownPolicyType: policy-type is not tlsa, sts or no-policy-found;
	// it is kept.
	DiagUnknownPolicyType DiagnosticCode = "unknown-policy-type"
	// DiagUnknownResultType: result-type is not in the IANA registry; it is
	// kept.
	DiagUnknownResultType DiagnosticCode = "unknown-result-type"
	// DiagInvalidIP: an IP address member does not parse; it is dropped.
	DiagInvalidIP DiagnosticCode = "invalid-ip"
	// DiagTimeNoZone: a date-time has no UTC offset; it is read as UTC.
	DiagTimeNoZone DiagnosticCode = "time-without-zone"
	// DiagTimeNonstandard: a date-time is not RFC 3339 but unambiguous (a
	// space for "T", an offset without colon); it is read anyway.
	DiagTimeNonstandard DiagnosticCode = "time-nonstandard"
	// DiagEndAtNextMidnight: end-datetime is 00:00:00 of the next day rather
	// than 23:59:59 (both mean the day ends at 24:00, RFC 8460 §4.1).
	DiagEndAtNextMidnight DiagnosticCode = "end-at-next-midnight"
	// DiagNotOneDay: the date range is not one UTC day (RFC 8460 §4.1).
	DiagNotOneDay DiagnosticCode = "range-not-one-day"
	// DiagRangeInverted: end-datetime is before start-datetime.
	DiagRangeInverted DiagnosticCode = "range-inverted"
	// DiagCountMismatch: total-failure-session-count differs from the sum of
	// failed-session-count over the failure details. Both are kept.
	DiagCountMismatch DiagnosticCode = "failure-count-mismatch"
	// DiagNegativeCount: a session count is negative; it is read as 0.
	DiagNegativeCount DiagnosticCode = "negative-count"
	// DiagNoPolicies: policies is an empty array.
	DiagNoPolicies DiagnosticCode = "no-policies"
	// DiagByteOrderMark: the JSON starts with a UTF-8 byte order mark.
	DiagByteOrderMark DiagnosticCode = "byte-order-mark"
)

// Deviations of a report mail from RFC 8460 §5.3 that ParseMessage
// tolerates. Their paths start with "mail:".
const (
	// DiagMailNotReport: the message is not multipart/report with
	// report-type=tlsrpt.
	DiagMailNotReport DiagnosticCode = "mail-not-multipart-report"
	// DiagMailMediaType: the report part is not application/tlsrpt+gzip or
	// application/tlsrpt+json, or its content does not match its type.
	DiagMailMediaType DiagnosticCode = "mail-media-type"
	// DiagMailMissingHeader: TLS-Report-Domain or TLS-Report-Submitter is
	// missing.
	DiagMailMissingHeader DiagnosticCode = "mail-missing-header"
	// DiagMailFilename: the report part has no file name, or one not of the
	// form of RFC 8460 §5.1.
	DiagMailFilename DiagnosticCode = "mail-filename"
	// DiagMailMismatch: headers, file name and report disagree on the
	// submitter, the policy domain or the period.
	DiagMailMismatch DiagnosticCode = "mail-mismatch"
	// DiagMailMalformed: the MIME structure is broken, for example the
	// closing boundary is missing, but the report could be read.
	DiagMailMalformed DiagnosticCode = "mail-malformed"
	// DiagMailForwarded: the report was found inside a forwarded
	// message/rfc822.
	DiagMailForwarded DiagnosticCode = "mail-forwarded"
)

// Diagnostic is one deviation from RFC 8460 §4 that Parse tolerated.
type Diagnostic struct {
	Code DiagnosticCode
	// Path locates the member in the JSON, for example
	// "policies[0].policy.mx-host"; it is "" for the document as a whole.
	Path string
	// Message says what was found and how it was read, and reads well
	// after Path.
	Message string
}

func (d Diagnostic) String() string {
	path := d.Path
	if path == "" {
		path = "report"
	}
	return fmt.Sprintf("%s %s [%s]", path, d.Message, d.Code)
}

// diagnoser collects Diagnostics during one Parse.
type diagnoser struct {
	diags []Diagnostic
}

func (d *diagnoser) add(code DiagnosticCode, path, format string, args ...any) {
	d.diags = append(d.diags, Diagnostic{Code: code, Path: path, Message: fmt.Sprintf(format, args...)})
}
