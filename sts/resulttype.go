package sts

import (
	"errors"

	"github.com/mtasts/mtasts/tlsrpt"
)

// ResultType maps an error of LookupRecord, FetchPolicy or Get to the
// TLS-RPT result type a sender reports for it (RFC 8460 §4.3.2):
//
//   - a policy that does not parse: sts-policy-invalid;
//   - a policy host whose certificate fails validation: sts-webpki-invalid;
//   - any other failure to fetch the policy: sts-policy-fetch-error.
//
// It returns "" for nil and for errors that are not failures of a policy
// that exists: no record (RFC 8461 §3.1 — the domain has no policy) and
// temporary DNS failures (the sender retries; nothing is reported yet).
func ResultType(err error) tlsrpt.ResultType {
	var fe *FetchError
	switch {
	case err == nil, errors.Is(err, ErrNoRecord), errors.Is(err, ErrDNS):
		return ""
	case errors.Is(err, ErrPolicySyntax), errors.Is(err, ErrRecordSyntax):
		return tlsrpt.ResultSTSPolicyInvalid
	case errors.As(err, &fe) && fe.Stage == StageTLS:
		return tlsrpt.ResultSTSWebPKIInvalid
	default:
		return tlsrpt.ResultSTSPolicyFetchError
	}
}
