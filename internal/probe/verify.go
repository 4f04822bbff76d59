package probe

import (
	"crypto/x509"
	"errors"
	"net/textproto"
	"strings"
	"time"

	"github.com/mtasts/mtasts/tlsrpt"
)

// checkChain judges p.result.Chain against RFC 8461 §4.2: the chain and
// the host name are checked apart, so that a result says both whether the
// chain is trusted and whether the name matches.
func (p *prober) checkChain(host string) {
	r := p.result
	if len(r.Chain) > 0 {
		r.NotAfter = r.Chain[0].NotAfter
	}
	r.VerifyError = VerifyChain(r.Chain, p.opts.RootCAs, p.opts.Now())
	r.Verified = r.VerifyError == nil
	r.NameError = VerifyName(r.Chain, host)
	r.NameMatch = r.NameError == nil
}

// VerifyChain checks that chain, leaf first, leads from its leaf to one of
// roots (nil: the system roots) through the other certificates presented,
// every certificate valid at now and fit for serverAuth. The host name is
// not checked here. A failure wraps a sentinel of this package and the
// x509 error.
func VerifyChain(chain []*x509.Certificate, roots *x509.CertPool, now time.Time) error {
	if len(chain) == 0 {
		return wrap(ErrCertInvalid, errors.New("no certificate presented"))
	}
	intermediates := x509.NewCertPool()
	for _, c := range chain[1:] {
		intermediates.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   now,
	})
	if err == nil {
		return nil
	}
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		// crypto/x509 has one reason for both ends of the validity period.
		if invalid.Cert != nil && now.Before(invalid.Cert.NotBefore) {
			return wrap(ErrCertNotYetValid, err)
		}
		return wrap(ErrCertExpired, err)
	case errors.As(err, &unknown):
		if signedBy(chain[0], chain[0]) { // self-signed
			return wrap(ErrSelfSigned, err)
		}
		return wrap(ErrUnknownAuthority, err)
	default:
		return wrap(ErrCertInvalid, err)
	}
}

// VerifyName checks that the leaf of chain is valid for host. RFC 8461
// §4.2 requires a DNS-ID (subjectAltName dNSName) matching the MX host
// name by the rules of RFC 6125 §6.4, a wildcard matching only a whole
// left-most label; crypto/x509's VerifyHostname applies exactly those
// rules, ignores the subject common name, case and a trailing dot.
func VerifyName(chain []*x509.Certificate, host string) error {
	if len(chain) == 0 {
		return wrap(ErrHostMismatch, errors.New("no certificate presented"))
	}
	if err := chain[0].VerifyHostname(strings.TrimSuffix(host, ".")); err != nil {
		return wrap(ErrHostMismatch, err)
	}
	return nil
}

// CertificateResultType returns the RFC 8460 §4.3 result type of a
// certificate judged by VerifyChain (chainErr) and VerifyName (nameErr),
// or "" when both passed. A chain failure is reported before a name
// mismatch; "not yet valid" counts as certificate-expired, since RFC 8460
// has no separate type for it.
func CertificateResultType(chainErr, nameErr error) tlsrpt.ResultType {
	switch {
	case errors.Is(chainErr, ErrCertExpired), errors.Is(chainErr, ErrCertNotYetValid):
		return tlsrpt.ResultCertificateExpired
	case errors.Is(chainErr, ErrUnknownAuthority), errors.Is(chainErr, ErrSelfSigned):
		return tlsrpt.ResultCertificateNotTrusted
	case chainErr != nil:
		return tlsrpt.ResultValidationFailure
	case nameErr != nil:
		return tlsrpt.ResultCertificateHostMismatch
	}
	return ""
}

// ResultType names the TLS failure the probe observed with its RFC 8460
// §4.3 result type, the value a sending MTA would put in a TLS-RPT
// report's "result-type":
//
//   - "starttls-not-supported": STARTTLS not announced, the STARTTLS
//     command refused, or EHLO itself not understood (500 or 502);
//   - "certificate-expired": a certificate of the chain expired or is not
//     yet valid (RFC 8460 has no separate type for the latter);
//   - "certificate-not-trusted": the chain does not lead to a trusted
//     root, self-signed certificates included;
//   - "certificate-host-mismatch": the chain is trusted but the leaf is
//     not valid for Host;
//   - "validation-failure": the TLS handshake failed, or the chain failed
//     for another reason.
//
// A chain failure is reported before a name mismatch. ResultType is ""
// when the server passed every check, and also when the probe failed
// before TLS could be tried (Err at stage connect or banner, or a refused
// EHLO): an unreachable MX is not a TLS failure, so check Err as well.
// The TLS version is not judged here; RFC 8461 §7.2 requires TLSVersion
// to be at least TLS 1.2.
func (r *Result) ResultType() string {
	var perr *Error
	if errors.As(r.Err, &perr) {
		switch perr.Stage {
		case StageSTARTTLS:
			return string(tlsrpt.ResultSTARTTLSNotSupported)
		case StageHandshake:
			return string(tlsrpt.ResultValidationFailure)
		case StageEHLO:
			var reply *textproto.Error
			if errors.As(perr.Err, &reply) && (reply.Code == 500 || reply.Code == 502) {
				return string(tlsrpt.ResultSTARTTLSNotSupported)
			}
		}
		return ""
	}
	switch {
	case r.Err != nil:
		return ""
	case !r.STARTTLS:
		return string(tlsrpt.ResultSTARTTLSNotSupported)
	}
	return string(CertificateResultType(r.VerifyError, r.NameError))
}
