package deliver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/mtasts/mtasts/internal/probe"
	"github.com/mtasts/mtasts/tlsrpt"
)

// tlsFailure is a TLS session that does not satisfy RFC 8461 §4.2, with
// the RFC 8460 §4.3 result type a TLS-RPT report gives it.
type tlsFailure struct {
	ResultType tlsrpt.ResultType
	Err        error
}

func (e *tlsFailure) Error() string { return string(e.ResultType) + ": " + e.Err.Error() }
func (e *tlsFailure) Unwrap() error { return e.Err }

// checkTLS judges a TLS session against RFC 8461 §4.2 and §7.2: TLS 1.2 or
// newer, a chain to one of roots (nil: the system's) valid at now, then a
// DNS-ID matching host (RFC 6125 as crypto/x509 implements it), judged by
// internal/probe so that the result types agree with mtasts check.
func checkTLS(cs tls.ConnectionState, host string, roots *x509.CertPool, now time.Time) *tlsFailure {
	if cs.Version < tls.VersionTLS12 {
		return &tlsFailure{tlsrpt.ResultValidationFailure, fmt.Errorf("TLS version %s is older than 1.2 (RFC 8461 §7.2)", tls.VersionName(cs.Version))}
	}
	if len(cs.PeerCertificates) == 0 {
		return &tlsFailure{tlsrpt.ResultValidationFailure, errors.New("no certificate presented")}
	}
	chainErr := probe.VerifyChain(cs.PeerCertificates, roots, now)
	nameErr := probe.VerifyName(cs.PeerCertificates, host)
	if rt := probe.CertificateResultType(chainErr, nameErr); rt != "" {
		if chainErr != nil {
			return &tlsFailure{rt, chainErr}
		}
		return &tlsFailure{rt, nameErr}
	}
	return nil
}
