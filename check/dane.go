package check

import (
	"context"
	"fmt"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/probe"
)

// tlsaAnswer is the answer to the TLSA query of an MX host.
type tlsaAnswer struct {
	name          string
	rrs           []*dns.TLSA
	authenticated bool  // the AD bit
	err           error // a temporary failure; not-found is no error
}

// lookupTLSA looks up the TLSA records of port 25 of host (RFC 7672 §2.2).
func (c *Checker) lookupTLSA(ctx context.Context, host string) tlsaAnswer {
	a := tlsaAnswer{name: "_25._tcp." + host}
	rrs, res, err := c.dns.TLSA(ctx, a.name)
	switch {
	case dnsx.IsNotFound(err):
	case err != nil:
		a.err = err
	default:
		a.rrs, a.authenticated = rrs, res.Authenticated
	}
	return a
}

// judgeTLSA reports the TLSA records of host: whether they are
// DNSSEC-authenticated, which DANE requires (RFC 7672 §2.2), and whether
// they match the certificate each probed address served (§3.1).
func judgeTLSA(host string, a tlsaAnswer, probes []addressProbe) (*TLSAFacts, []Finding) {
	var fs []Finding
	add := func(code Code, subject, addr, format string, args ...any) {
		f := newFinding(code, subject, format, args...)
		f.host, f.addr = host, addr
		fs = append(fs, f)
	}
	if a.err != nil {
		add(dnsCode(daneTLSADNSError, a.err), host, "", "TLSA lookup of %s failed temporarily: %s", a.name, dnsReason(a.err))
		return nil, fs
	}
	if len(a.rrs) == 0 {
		return nil, nil
	}
	facts := &TLSAFacts{Name: a.name, Records: []string{}, Authenticated: a.authenticated}
	for _, rr := range a.rrs {
		facts.Records = append(facts.Records, fmt.Sprintf("%d %d %d %s", rr.Usage, rr.Selector, rr.MatchingType, rr.Certificate))
	}
	if a.authenticated {
		add(daneTLSAPublished, host, "", "%s has %d DNSSEC-authenticated TLSA record(s): senders that support DANE validate %s with them", a.name, len(a.rrs), host)
	} else {
		add(daneTLSAUnauthenticated, host, "", "%s has %d TLSA record(s), but the answer was not DNSSEC-authenticated (AD bit clear)", a.name, len(a.rrs))
	}
	for _, p := range probes {
		if len(p.chain) == 0 {
			continue
		}
		if ok, detail := probe.TLSAMatches(p.chain, a.rrs); !ok {
			add(daneTLSAMismatch, host+" ["+p.facts.IP+"]", p.facts.IP,
				"the certificate served at %s does not match the TLSA records of %s: %s", p.facts.IP, a.name, detail)
		}
	}
	return facts, fs
}
