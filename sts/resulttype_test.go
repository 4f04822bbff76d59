package sts

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"

	"github.com/mtasts/mtasts/tlsrpt"
)

// RFC 8460 §4.3.2: each policy failure maps to its MTA-STS result type.
func TestResultType(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want tlsrpt.ResultType
	}{
		{"nil", nil, ""},
		{"no record", fmt.Errorf("lookup: %w", ErrNoRecord), ""},
		{"several records", ErrMultipleRecords, ""},
		{"temporary DNS failure", fmt.Errorf("%w: SERVFAIL", ErrDNS), ""},
		{"record syntax", &RecordSyntaxError{Field: "id", Reason: "bad"}, tlsrpt.ResultSTSPolicyInvalid},
		{"policy syntax", &SyntaxError{Line: 2, Key: "mode", Reason: "bad"}, tlsrpt.ResultSTSPolicyInvalid},
		{"certificate", &FetchError{Stage: StageTLS, Err: x509.UnknownAuthorityError{}}, tlsrpt.ResultSTSWebPKIInvalid},
		{"HTTP 404", &FetchError{Stage: StageStatus, StatusCode: 404}, tlsrpt.ResultSTSPolicyFetchError},
		{"redirect", &FetchError{Stage: StageRedirect, StatusCode: 301}, tlsrpt.ResultSTSPolicyFetchError},
		{"policy host DNS", &FetchError{Stage: StageDNS, Err: errors.New("no such host")}, tlsrpt.ResultSTSPolicyFetchError},
		{"timeout", &FetchError{Stage: StageTimeout, Err: context.DeadlineExceeded}, tlsrpt.ResultSTSPolicyFetchError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ResultType(tc.err); got != tc.want {
				t.Errorf("ResultType(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}
