package tlsrpt

import (
	"errors"
	"fmt"
)

// Errors are grouped by stage. Callers test them with errors.Is; the typed
// errors below carry details for errors.As.
var (
	// ErrNoRecord means a domain has no usable _smtp._tls record: no TXT
	// string begins with v=TLSRPTv1, or several do (RFC 8460 §3).
	ErrNoRecord = errors.New("tlsrpt: no TLSRPT record")

	// ErrMultipleRecords means more than one TXT string begins with
	// v=TLSRPTv1. RFC 8460 §3: the sender must then assume the domain does
	// not implement TLSRPT, so errors.Is(ErrMultipleRecords, ErrNoRecord)
	// holds as well.
	ErrMultipleRecords error = multipleRecordsError{}

	// ErrRecordSyntax means the _smtp._tls record breaks the RFC 8460 §3
	// grammar. Errors of this kind are *RecordSyntaxError.
	ErrRecordSyntax = errors.New("tlsrpt: record syntax error")

	// ErrReportSyntax means a report could not be read at all (RFC 8460 §4):
	// it is not JSON, or it lacks what no reader can do without. Deviations
	// that can be tolerated are Diagnostics instead.
	ErrReportSyntax = errors.New("tlsrpt: report syntax error")

	// ErrNoReport means a mail holds no part that parses as a TLS report
	// (RFC 8460 §5.3).
	ErrNoReport = errors.New("tlsrpt: no TLS report in the message")

	// ErrReportTooLarge means a report exceeded ParseOptions.MaxSize, before
	// or after decompression.
	ErrReportTooLarge = errors.New("tlsrpt: report too large")
)

type multipleRecordsError struct{}

func (multipleRecordsError) Error() string {
	return "tlsrpt: more than one v=TLSRPTv1 record, so reporting is off (RFC 8460 §3)"
}

func (multipleRecordsError) Is(target error) bool { return target == ErrNoRecord }

// RecordSyntaxError describes what is wrong with a _smtp._tls TXT record
// (RFC 8460 §3). errors.Is(err, ErrRecordSyntax) holds for it.
type RecordSyntaxError struct {
	Field  string // "v", "rua", an extension name, or "record" for the whole text
	Value  string // the offending text, if any
	Reason string // what is wrong, phrased to follow Field and Value
}

func (e *RecordSyntaxError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("tlsrpt record: %s %s (RFC 8460 §3)", e.Field, e.Reason)
	}
	return fmt.Sprintf("tlsrpt record: %s %q %s (RFC 8460 §3)", e.Field, e.Value, e.Reason)
}

// Is reports whether target is ErrRecordSyntax.
func (e *RecordSyntaxError) Is(target error) bool { return target == ErrRecordSyntax }

// ReportError describes why a report could not be parsed (RFC 8460 §4).
// errors.Is(err, ErrReportSyntax) holds for it.
type ReportError struct {
	Path   string // JSON path of the offending member, "" for the whole document
	Reason string
	Err    error // underlying error, such as a *json.SyntaxError, if any
}

func (e *ReportError) Error() string {
	msg := "tlsrpt report: "
	if e.Path != "" {
		msg += e.Path + ": "
	}
	msg += e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrReportSyntax.
func (e *ReportError) Is(target error) bool { return target == ErrReportSyntax }

// Unwrap returns the underlying error.
func (e *ReportError) Unwrap() error { return e.Err }
