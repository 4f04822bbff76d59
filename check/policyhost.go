package check

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/sts"
)

// policyOutcome is what the check of the policy host and the policy found.
type policyOutcome struct {
	host     *PolicyHostFacts
	findings []Finding
	// policy is the valid policy, if one was fetched.
	policy *sts.Policy
	text   string
}

// checkPolicyHost resolves mta-sts.<domain>, fetches the policy as a
// sender would (RFC 8461 §3.3) and checks the policy (§3.2).
func (r *run) checkPolicyHost(ctx context.Context) policyOutcome {
	name := "mta-sts." + r.domain
	facts := &PolicyHostFacts{Name: name, Addresses: []string{}, URL: sts.PolicyURL(r.domain)}
	out := policyOutcome{host: facts}
	add := func(code Code, format string, args ...any) {
		out.findings = append(out.findings, newFinding(code, name, format, args...))
	}
	addrs, err := r.c.resolve(ctx, name)
	switch {
	case dnsx.IsNotFound(err):
		add(policyHostDNSMissing, "%s has no A or AAAA record", name)
		return out
	case err != nil:
		add(dnsCode(policyHostDNSError, err), "address lookup of %s failed temporarily: %s", name, dnsReason(err))
		return out
	}
	facts.Addresses = addrStrings(addrs)
	var usable []netip.Addr
	for _, a := range addrs {
		if r.c.familyReason(a) == "" {
			usable = append(usable, a)
		}
	}
	if len(usable) == 0 {
		add(policyHostConnect, "%s has no address the check may connect to (%s): %s", name, r.c.familyReason(addrs[0]), strings.Join(facts.Addresses, ", "))
		return out
	}

	s, err := r.c.dial.open(ctx, usable)
	if err != nil {
		add(policyHostConnect, "no connection to %s port 443: %v", name, err)
		return out
	}
	defer s.close()
	start := r.now()
	f, err := sts.FetchPolicy(ctx, r.domain, sts.FetchOptions{
		RootCAs:     r.c.opts.RootCAs,
		DialContext: s.dial,
		Timeout:     r.c.opts.Timeout,
		Now:         r.c.opts.Now,
		UserAgent:   r.c.opts.UserAgent,
	})
	elapsed := r.now().Sub(start)
	facts.FetchMS = elapsed.Milliseconds()
	if f != nil {
		facts.Status, facts.ContentType, facts.Bytes = f.Status, f.ContentType, len(f.Body)
		if f.TLS != nil {
			facts.TLS = newTLSFacts(f.TLS.Version, f.TLS.CipherSuite, f.TLS.PeerCertificates, r.now())
		}
	}
	var fe *sts.FetchError
	if errors.As(err, &fe) {
		if facts.TLS == nil {
			if leaf := failedLeaf(err); leaf != nil {
				facts.TLS = &TLSFacts{Certificate: newCertFacts(leaf, r.now())}
			}
		}
		out.findings = append(out.findings, r.fetchFinding(name, f, fe))
		return out
	}
	if f.TLS != nil && len(f.TLS.PeerCertificates) > 0 {
		if fd, ok := expiryFinding(policyCertExpiringSoon, policyCertExpiring, name, f.TLS.PeerCertificates[0], r.now()); ok {
			out.findings = append(out.findings, fd)
		}
	}
	if elapsed > r.c.opts.SlowFetch {
		add(policyFetchSlow, "fetching %s took %.1f s, more than %s", f.URL, elapsed.Seconds(), r.c.opts.SlowFetch)
	}
	out.text = string(f.Body)
	out.policy = f.Policy
	out.findings = append(out.findings, policyFindings(f, err)...)
	return out
}

// fetchFinding classifies a failed fetch by its stage.
func (r *run) fetchFinding(name string, f *sts.Fetched, fe *sts.FetchError) Finding {
	url := fe.URL
	if url == "" {
		url = f.URL
	}
	switch fe.Stage {
	case sts.StageDNS:
		return newFinding(policyHostDNSError, name, "resolving %s failed: %v", name, fe.Err)
	case sts.StageTLS:
		return r.policyTLSFinding(name, fe.Err)
	case sts.StageStatus:
		return newFinding(policyHTTPStatus, name, "GET %s answered HTTP %d", url, fe.StatusCode)
	case sts.StageRedirect:
		return newFinding(policyRedirect, name, "GET %s answered HTTP %d with a redirect to %q, which senders do not follow", url, fe.StatusCode, fe.Location)
	case sts.StageContentType:
		ct := f.ContentType
		if ct == "" {
			ct = "no Content-Type"
		}
		return newFinding(policyContentType, name, "the policy was served as %q, not text/plain", ct)
	case sts.StageSize:
		return newFinding(policyTooLarge, name, "the policy body is larger than %d bytes", sts.DefaultMaxBytes)
	case sts.StageTimeout:
		return newFinding(policyFetchTimeout, name, "fetching %s did not finish within %s: %v", url, r.c.opts.Timeout, fe.Err)
	}
	if errors.Is(fe, errNotPublic) {
		return newFinding(policyHostNotPublic, name, "%s resolves only to non-public addresses: %v", name, fe.Err)
	}
	return newFinding(policyHostConnect, name, "no connection to %s port 443: %v", name, fe.Err)
}

// policyTLSFinding classifies a failed TLS handshake or certificate
// check of the policy host.
func (r *run) policyTLSFinding(name string, err error) Finding {
	var (
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		unknown  x509.UnknownAuthorityError
		verify   *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired && invalid.Cert != nil:
		return newFinding(policyCertExpired, name, "the certificate %s %s", describeCert(invalid.Cert), validityText(invalid.Cert, r.now()))
	case errors.As(err, &hostname) && hostname.Certificate != nil:
		return newFinding(policyCertNameMismatch, name, "the certificate is valid %s, not for %s", describeCert(hostname.Certificate), name)
	case errors.As(err, &unknown), errors.As(err, &invalid), errors.As(err, &verify):
		return newFinding(policyCertUntrusted, name, "the certificate is not trusted: %v", lastCause(err))
	}
	return newFinding(policyHostTLS, name, "the TLS handshake with %s failed: %v", name, lastCause(err))
}

// failedLeaf returns the leaf certificate a failed TLS handshake saw, if
// any.
func failedLeaf(err error) *x509.Certificate {
	var verify *tls.CertificateVerificationError
	if errors.As(err, &verify) && len(verify.UnverifiedCertificates) > 0 {
		return verify.UnverifiedCertificates[0]
	}
	var hostname x509.HostnameError
	if errors.As(err, &hostname) {
		return hostname.Certificate
	}
	return nil
}

// lastCause strips the wrappers of err that only repeat context, keeping
// the innermost error that says what went wrong.
func lastCause(err error) error {
	var verify *tls.CertificateVerificationError
	if errors.As(err, &verify) {
		return verify.Err
	}
	return err
}

// policyFindings checks a fetched policy: syntax errors (RFC 8461 §3.2)
// with their line, the parser's warnings, and mode none.
func policyFindings(f *sts.Fetched, err error) []Finding {
	var fs []Finding
	var syntax *sts.SyntaxError
	if errors.As(err, &syntax) {
		fs = append(fs, syntaxFinding(f.URL, syntax))
	}
	for _, w := range f.Warnings {
		if fd, ok := warningFinding(f.URL, w); ok {
			fs = append(fs, fd)
		}
	}
	if f.Policy != nil && f.Policy.Mode == sts.ModeNone {
		fs = append(fs, newFinding(policyModeNone, f.URL, "the policy has mode none, so senders act as if the domain had no policy"))
	}
	return fs
}

// syntaxFinding classifies a policy syntax error.
func syntaxFinding(url string, e *sts.SyntaxError) Finding {
	code := policySyntax
	switch {
	case e.Line == 0 && e.Key != "":
		code = policyKeyMissing
	case e.Key == "version":
		code = policyVersionInvalid
	case e.Key == "mode":
		code = policyModeInvalid
	case e.Key == "max_age" && isDigits(e.Value):
		code = policyMaxAgeTooLong // digits only, yet rejected: too large
	case e.Key == "max_age":
		code = policyMaxAgeInvalid
	case e.Key == "mx":
		code = policyMXInvalid
	}
	msg := strings.TrimSuffix(e.Error(), " ("+e.Section+")")
	msg = strings.TrimPrefix(strings.TrimPrefix(msg, "policy: "), "policy ")
	return newFinding(code, url, "%s", msg)
}

// lintCodes maps the warning codes of the policy parser to finding codes.
// Mode testing is reported by the MX checks instead, with the hosts that
// would fail under enforce.
var lintCodes = map[string]Code{
	sts.WarnMaxAgeShort:      policyMaxAgeShort,
	sts.WarnModeTesting:      "",
	sts.WarnMixedLineEndings: policyMixedLineEndings,
	sts.WarnDuplicateKey:     policyDuplicateKey,
	sts.WarnMXIPAddress:      policyMXIP,
	sts.WarnMXTrailingDot:    policyMXTrailingDot,
	sts.WarnPolicyLarge:      policyLarge,
	sts.WarnModeNoneMX:       policyModeNoneMX,
	sts.WarnUnknownKey:       policyUnknownKey,
	sts.WarnBlankLine:        policyBlankLine,
	sts.WarnVersionNotFirst:  policyVersionNotFirst,
}

// warningFinding turns a warning of the policy parser into a finding.
func warningFinding(url string, w sts.Warning) (Finding, bool) {
	code, known := lintCodes[w.Code]
	switch {
	case !known:
		code = policyWarning
	case code == "":
		return Finding{}, false
	}
	msg := w.Message
	if w.Line > 0 {
		msg = fmt.Sprintf("line %d: %s", w.Line, msg)
	}
	if code == policyWarning {
		msg += " [" + w.Code + "]"
	}
	return newFinding(code, url, "%s", msg), true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
