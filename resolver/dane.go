package resolver

import (
	"context"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/dnsx"
)

// DANEResolver is the DNS access DANE detection needs (RFC 7672 §2.2): MX
// and TLSA lookups that say whether the answer was DNSSEC-authenticated.
// Only a validating resolver reached over a trusted path can say so.
type DANEResolver interface {
	// MX returns the host names of domain's MX records, and whether the
	// answer (or the proof that there are none) was authenticated. No MX
	// records is no hosts and no error.
	MX(ctx context.Context, domain string) (hosts []string, secure bool, err error)
	// TLSA returns how many TLSA records name has, and whether the answer
	// (or the proof that there are none) was authenticated. No records is
	// 0 and no error.
	TLSA(ctx context.Context, name string) (n int, secure bool, err error)
}

// NewDANEResolver returns a DANEResolver that asks c, trusting the AD bit
// of its answers (dnsx.Result.Authenticated).
func NewDANEResolver(c *dnsx.Client) DANEResolver { return dnsxDANE{c} }

type dnsxDANE struct{ c *dnsx.Client }

func (d dnsxDANE) MX(ctx context.Context, domain string) ([]string, bool, error) {
	mxs, res, err := d.c.MX(ctx, domain)
	if dnsx.IsNotFound(err) {
		return nil, res.Authenticated, nil
	}
	if err != nil {
		return nil, false, err
	}
	hosts := make([]string, 0, len(mxs))
	for _, mx := range mxs {
		hosts = append(hosts, mx.Host)
	}
	return hosts, res.Authenticated, nil
}

func (d dnsxDANE) TLSA(ctx context.Context, name string) (int, bool, error) {
	rrs, res, err := d.c.TLSA(ctx, name)
	if dnsx.IsNotFound(err) {
		return 0, res.Authenticated, nil
	}
	if err != nil {
		return 0, false, err
	}
	return len(rrs), res.Authenticated, nil
}

// daneVerdict is a remembered result of DANE detection.
type daneVerdict struct {
	d       Decision // Kind DANE, or zero when DANE does not apply
	expires time.Time
}

// checkDANE reports whether DANE governs mail to domain (RFC 8461 §2, RFC
// 7672 §2.2): its MX RRset is authenticated and one of its MX hosts (the
// domain itself when it has no MX records) has authenticated TLSA records
// at _25._tcp.<host>. A TLSA lookup that fails for a host of an
// authenticated MX RRset counts too: the host's DANE status is unknown,
// and Postfix's "dane" policy defers such a host rather than trusting it.
// A failed MX lookup says nothing, and MTA-STS decides. Verdicts are
// remembered for RecheckInterval, failures not at all.
func (r *Resolver) checkDANE(ctx context.Context, domain string) (Decision, bool) {
	now := r.cfg.Now()
	if v, ok := r.dane.Get(domain); ok && now.Before(v.expires) {
		return v.d, v.d.Kind == DANE
	}
	out := r.flight(ctx, "dane "+domain, func(ctx context.Context, domain string) outcome {
		return outcome{d: r.detectDANE(ctx, strings.TrimPrefix(domain, "dane "))}
	})
	return out.d, !out.canceled && out.d.Kind == DANE
}

// detectDANE looks up the MX and TLSA records of domain and remembers the
// verdict unless a lookup failed.
func (r *Resolver) detectDANE(ctx context.Context, domain string) Decision {
	hosts, secure, err := r.cfg.DANE.MX(ctx, domain)
	if err != nil {
		r.cfg.Logger.DebugContext(ctx, "MX lookup for DANE detection failed", "domain", domain, "err", err)
		return Decision{}
	}
	remember := func(d Decision) Decision {
		r.dane.Put(domain, daneVerdict{d: d, expires: r.cfg.Now().Add(max(r.cfg.RecheckInterval, 0))})
		return d
	}
	if !secure {
		return remember(Decision{})
	}
	if len(hosts) == 0 {
		hosts = []string{domain} // the implicit MX (RFC 5321 §5.1)
	}
	var withTLSA, failed []string
	for _, h := range hosts {
		h = strings.TrimSuffix(h, ".")
		if h == "" {
			continue // null MX (RFC 7505)
		}
		n, sec, err := r.cfg.DANE.TLSA(ctx, "_25._tcp."+h)
		switch {
		case err != nil:
			failed = append(failed, h)
		case sec && n > 0:
			withTLSA = append(withTLSA, h)
		}
	}
	d := Decision{Domain: domain, Kind: DANE, Source: SourceDNS}
	switch {
	case len(withTLSA) > 0:
		d.Reason = "MX hosts with DNSSEC-authenticated TLSA records: " + strings.Join(withTLSA, ", ") +
			"; DANE (RFC 7672) governs and MTA-STS must not override it (RFC 8461 §2)"
		return remember(d)
	case len(failed) > 0:
		d.Reason = "the MX records are DNSSEC-authenticated but the TLSA lookup failed for " + strings.Join(failed, ", ") +
			"; DANE (RFC 7672 §2.2) decides, and MTA-STS must not override it (RFC 8461 §2)"
		return d
	}
	return remember(Decision{})
}

// ValidatesDNSSEC reports whether the resolver behind c validates DNSSEC,
// so that DANE detection can be on by default where it can work: it asks
// for the NS records of the root zone, which is signed, and reads the AD
// bit of the answer.
func ValidatesDNSSEC(ctx context.Context, c *dnsx.Client) (bool, error) {
	_, res, err := c.Query(ctx, ".", dns.TypeNS)
	if err != nil && !dnsx.IsNotFound(err) {
		return false, err
	}
	return res.Authenticated, nil
}
