package check

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/probe"
)

// hostReport is what the checks of one MX host found. It depends on the
// host name only, not on the domain, so a Checker shares it between
// domains; it is never changed once made.
type hostReport struct {
	addrs    []AddressFacts
	tlsa     *TLSAFacts
	findings []Finding
}

// timedOut reports whether a DNS lookup of the report got no answer in
// time.
func (rep *hostReport) timedOut() bool {
	for _, f := range rep.findings {
		if f.Code == resolverTimeout {
			return true
		}
	}
	return false
}

// hostReport returns the report of host, from the cache if another domain
// asked for it already.
func (c *Checker) hostReport(ctx context.Context, host string) *hostReport {
	return c.hosts.get(ctx, host, func() *hostReport { return c.checkHost(ctx, host) })
}

// checkHost resolves an MX host, probes each of its addresses on port 25
// (RFC 8461 §4.2) and checks its TLSA records (RFC 7672).
func (c *Checker) checkHost(ctx context.Context, host string) *hostReport {
	rep := &hostReport{addrs: []AddressFacts{}}
	add := func(code Code, format string, args ...any) {
		f := newFinding(code, host, format, args...)
		f.host = host
		rep.findings = append(rep.findings, f)
	}
	var (
		tlsa tlsaAnswer
		wg   sync.WaitGroup
	)
	wg.Go(func() { tlsa = c.lookupTLSA(ctx, host) })
	addrs, err := c.resolve(ctx, host)
	switch {
	case dnsx.IsNotFound(err):
		add(mxHostNoAddress, "MX host %s has no A or AAAA record", host)
	case err != nil:
		add(dnsCode(mxHostDNSError, err), "address lookup of MX host %s failed temporarily: %s", host, dnsReason(err))
	}

	probes := make([]addressProbe, len(addrs))
	for i, ip := range addrs {
		probes[i].facts = AddressFacts{IP: ip.String()}
		switch reason := c.skipReason(ip); {
		case c.opts.NoMX:
			probes[i].facts.Skipped = "not probed (--no-mx)"
		case reason != "":
			probes[i].facts.Skipped = reason
		default:
			wg.Go(func() { probes[i] = c.probeAddress(ctx, host, ip) })
		}
	}
	wg.Wait()
	for _, p := range probes {
		rep.addrs = append(rep.addrs, p.facts)
		rep.findings = append(rep.findings, p.findings...)
	}

	tlsaFacts, fs := judgeTLSA(host, tlsa, probes)
	rep.tlsa = tlsaFacts
	rep.findings = append(rep.findings, fs...)
	return rep
}

// addressProbe is the outcome of probing one address.
type addressProbe struct {
	facts    AddressFacts
	findings []Finding
	chain    []*x509.Certificate // for the TLSA match; not kept in the report
}

// probeAddress probes ip, an address of the MX host host, on port 25 and
// judges what it saw by RFC 8461 §4.2 and §7.2.
func (c *Checker) probeAddress(ctx context.Context, host string, ip netip.Addr) addressProbe {
	subject := host + " [" + ip.String() + "]"
	out := addressProbe{facts: AddressFacts{IP: ip.String()}}
	add := func(code Code, format string, args ...any) {
		f := newFinding(code, subject, format, args...)
		f.host, f.addr = host, ip.String()
		out.findings = append(out.findings, f)
	}
	s, err := c.dial.open(ctx, []netip.Addr{ip})
	if err != nil {
		out.facts.Error = err.Error()
		add(mxConnectFailed, "no connection to %s port 25: %v", ip, err)
		return out
	}
	defer s.close()
	start := c.opts.Now()
	res := probe.Probe(ctx, host, ip.String(), probe.Options{
		Dial:     s.dial,
		RootCAs:  c.opts.RootCAs,
		Timeout:  c.opts.Timeout,
		HeloName: c.opts.HeloName,
		Now:      c.opts.Now,
	})
	now := c.opts.Now()
	out.facts.ProbeMS = now.Sub(start).Milliseconds()
	out.facts.EHLOName, out.facts.STARTTLS = res.EHLOName, res.STARTTLS
	if res.TLSVersion != 0 {
		out.facts.TLS = newTLSFacts(res.TLSVersion, res.CipherSuite, res.Chain, now)
		out.chain = res.Chain
	}

	var perr *probe.Error
	if errors.As(res.Err, &perr) {
		out.facts.Error = res.Err.Error()
		switch {
		case errors.Is(res.Err, errNotPublic):
			add(mxNotPublic, "%s is not a public address; not connecting (--public-only)", ip)
		case perr.Stage == probe.StageConnect:
			add(mxConnectFailed, "no connection to %s port 25: %v", ip, perr.Err)
		case res.ResultType() == "starttls-not-supported":
			add(mxSTARTTLSMissing, "the server refused STARTTLS: %v", perr.Err)
		case perr.Stage == probe.StageHandshake:
			add(mxTLSFailed, "the TLS handshake after STARTTLS failed: %v", perr.Err)
		default:
			add(mxSMTPError, "the SMTP dialogue failed at %s: %v", perr.Stage, perr.Err)
		}
		return out
	}
	if !res.STARTTLS {
		add(mxSTARTTLSMissing, "the EHLO reply does not offer STARTTLS (it offers: %s)", orNothing(res.Extensions))
		return out
	}
	if res.TLSVersion < tls.VersionTLS12 {
		add(mxTLSVersion, "the server negotiated %s; senders require TLS 1.2 or newer", res.TLSVersionName())
	}
	if isInsecureSuite(res.CipherSuite) {
		add(mxTLSCipherWeak, "the server chose the insecure cipher suite %s", res.CipherSuiteName())
	}
	leaf := res.Chain[0]
	switch {
	case errors.Is(res.VerifyError, probe.ErrCertExpired), errors.Is(res.VerifyError, probe.ErrCertNotYetValid):
		add(mxCertExpired, "the certificate %s %s", describeCert(leaf), validityText(leaf, now))
	case res.VerifyError != nil:
		add(mxCertUntrusted, "the certificate %s is not trusted: %v", describeCert(leaf), res.VerifyError)
	default:
		if f, ok := expiryFinding(mxCertExpiringSoon, mxCertExpiring, subject, leaf, now); ok {
			f.host, f.addr = host, ip.String()
			out.findings = append(out.findings, f)
		}
	}
	if !res.NameMatch {
		add(mxCertNameMismatch, "the certificate is valid %s, not for the MX host name %s", describeCert(leaf), host)
	}
	return out
}

// isInsecureSuite reports whether id is one of the cipher suites crypto/tls
// deems insecure (RC4, 3DES, CBC with SHA-256, non-forward-secret RC4).
func isInsecureSuite(id uint16) bool {
	return slices.ContainsFunc(tls.InsecureCipherSuites(), func(s *tls.CipherSuite) bool { return s.ID == id })
}

// orNothing lists EHLO keywords for messages.
func orNothing(kw []string) string {
	if len(kw) == 0 {
		return "nothing"
	}
	return strings.Join(kw, " ")
}
