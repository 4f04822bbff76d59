package sts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mtasts/mtasts/internal/untrusted"
)

// Sentinel errors, one per stage of policy discovery. Match them with
// errors.Is; the typed errors below satisfy the matching sentinel.
var (
	// ErrNoRecord means the domain has no usable _mta-sts TXT record: the
	// name does not exist, has no TXT records, or none of them begins with
	// "v=STSv1;" (RFC 8461 §3.1). The sender then treats the domain as not
	// implementing MTA-STS; this alone must not erase a cached policy
	// (RFC 8461 §5.1).
	ErrNoRecord = errors.New("no MTA-STS TXT record")

	// ErrMultipleRecords means more than one TXT record begins with
	// "v=STSv1;". RFC 8461 §3.1 says that then the domain does not
	// implement MTA-STS, so ErrMultipleRecords satisfies
	// errors.Is(err, ErrNoRecord).
	ErrMultipleRecords = fmt.Errorf("%w: more than one record begins with \"v=STSv1;\"", ErrNoRecord)

	// ErrRecordSyntax means the one selected TXT record does not follow the
	// ABNF of RFC 8461 §3.1. Details are in a *RecordSyntaxError.
	ErrRecordSyntax = errors.New("invalid MTA-STS TXT record")

	// ErrDNS is a temporary DNS failure (SERVFAIL, timeout, refused, …).
	// It is not the absence of a record: a sender must not treat it as
	// ErrNoRecord (RFC 8461 §5.1, §10.2).
	ErrDNS = errors.New("temporary DNS failure")

	// ErrPolicyFetch means the policy could not be fetched over HTTPS as
	// RFC 8461 §3.3 requires. Details are in a *FetchError.
	ErrPolicyFetch = errors.New("MTA-STS policy fetch failed")

	// ErrPolicySyntax means the policy body does not follow RFC 8461 §3.2.
	// Details are in a *SyntaxError.
	ErrPolicySyntax = errors.New("invalid MTA-STS policy")

	// ErrInvalidDomain means a domain given to a lookup is not a valid
	// domain name (empty, an IP address literal, a malformed IDN, or too
	// long).
	ErrInvalidDomain = errors.New("invalid domain name")
)

// Section names used in error messages and warnings.
const (
	secRecord = "RFC 8461 §3.1"
	secPolicy = "RFC 8461 §3.2"
	secFetch  = "RFC 8461 §3.3"
	secMatch  = "RFC 8461 §4.1"
)

// RecordSyntaxError describes why a _mta-sts TXT record does not follow the
// ABNF of RFC 8461 §3.1. It satisfies errors.Is(err, ErrRecordSyntax).
type RecordSyntaxError struct {
	// Offset is the byte offset into the record where the problem starts,
	// counted from 0.
	Offset int
	// Field is the field name ("v", "id", or an extension name); empty when
	// the problem is not inside a field (for example a stray delimiter).
	Field string
	// Value is the offending value, if any.
	Value string
	// Reason says what is wrong, for a person.
	Reason string
}

// Error formats the error as, for example,
// `_mta-sts record: offset 9: id "a_b": must be 1 to 32 letters or digits (RFC 8461 §3.1)`.
func (e *RecordSyntaxError) Error() string {
	var b strings.Builder
	b.WriteString("_mta-sts record: offset ")
	b.WriteString(strconv.Itoa(e.Offset))
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		if e.Value != "" {
			b.WriteString(" " + untrusted.Quote(e.Value))
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	b.WriteString(" (" + secRecord + ")")
	return b.String()
}

// Is reports whether target is ErrRecordSyntax.
func (e *RecordSyntaxError) Is(target error) bool { return target == ErrRecordSyntax }

// SyntaxError describes why a policy file does not follow RFC 8461 §3.2. It
// satisfies errors.Is(err, ErrPolicySyntax).
type SyntaxError struct {
	// Line is the 1-based line number, or 0 for a problem with the policy
	// as a whole (such as a missing required key).
	Line int
	// Key is the key concerned, if any.
	Key string
	// Value is the offending value, if any.
	Value string
	// Reason says what is wrong, for a person.
	Reason string
	// Section names the rule, such as "RFC 8461 §3.2".
	Section string
}

// Error formats the error as, for example,
// `policy line 3: max_age "31557601" exceeds 31557600 (RFC 8461 §3.2)` or
// `policy: required key "mode" missing (RFC 8461 §3.2)`.
func (e *SyntaxError) Error() string {
	var b strings.Builder
	b.WriteString("policy")
	if e.Line > 0 {
		b.WriteString(" line " + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Line > 0 && e.Key != "" {
		b.WriteString(e.Key + " " + untrusted.Quote(e.Value) + " ")
	}
	b.WriteString(e.Reason)
	if e.Section != "" {
		b.WriteString(" (" + e.Section + ")")
	}
	return b.String()
}

// Is reports whether target is ErrPolicySyntax.
func (e *SyntaxError) Is(target error) bool { return target == ErrPolicySyntax }

// Fetch stages, the values of FetchError.Stage. They say how far a policy
// fetch got (RFC 8461 §3.3).
const (
	StageDNS         = "dns"          // resolving mta-sts.<domain> failed
	StageConnect     = "connect"      // the TCP connection failed
	StageTLS         = "tls"          // handshake or certificate validation failed
	StageStatus      = "status"       // the HTTP status was not 200
	StageRedirect    = "redirect"     // the server answered with a redirect, which is never followed
	StageContentType = "content-type" // the media type was not text/plain
	StageSize        = "size"         // the body exceeded the size limit
	StageTimeout     = "timeout"      // the overall time limit ran out (or the context ended)
)

// FetchError describes a failed policy fetch (RFC 8461 §3.3). It satisfies
// errors.Is(err, ErrPolicyFetch) and unwraps to the underlying error, so
// errors.As finds, for example, the x509.HostnameError,
// x509.UnknownAuthorityError or x509.CertificateInvalidError of a StageTLS
// failure, or the *net.DNSError of a StageDNS one.
type FetchError struct {
	// Stage is one of the Stage constants.
	Stage string
	// URL is the policy URL.
	URL string
	// StatusCode is the HTTP status, when a response was received.
	StatusCode int
	// Location is the redirect target of a StageRedirect failure.
	Location string
	// Err is the underlying error, if any.
	Err error
}

// Error formats the error with its URL and stage, as in
// `fetching MTA-STS policy https://mta-sts.example.com/.well-known/mta-sts.txt
// (stage status): HTTP 404, only 200 is success (RFC 8461 §3.3)`.
func (e *FetchError) Error() string {
	var b strings.Builder
	b.WriteString("fetching MTA-STS policy")
	if e.URL != "" {
		b.WriteString(" " + e.URL)
	}
	b.WriteString(" (stage " + e.Stage + ")")
	switch {
	case e.Stage == StageRedirect:
		b.WriteString(": HTTP " + strconv.Itoa(e.StatusCode) + " redirect to " + strconv.Quote(e.Location) + " refused (" + secFetch + ")")
	case e.Stage == StageStatus && e.Err == nil:
		b.WriteString(": HTTP " + strconv.Itoa(e.StatusCode) + ", only 200 is success (" + secFetch + ")")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *FetchError) Unwrap() error { return e.Err }

// Is reports whether target is ErrPolicyFetch.
func (e *FetchError) Is(target error) bool { return target == ErrPolicyFetch }
