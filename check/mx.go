package check

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"

	"github.com/mtasts/mtasts/internal/dnsx"
)

// mxOutcome is what the check of the MX records and hosts found.
type mxOutcome struct {
	facts    MXFacts
	findings []Finding
}

// checkMX looks up the MX records of the domain (RFC 5321 §5.1, RFC 7505)
// and checks each MX host.
func (r *run) checkMX(ctx context.Context) mxOutcome {
	out := mxOutcome{facts: MXFacts{Probed: !r.c.opts.NoMX, Hosts: []MXHostFacts{}}}
	add := func(code Code, format string, args ...any) {
		out.findings = append(out.findings, newFinding(code, r.domain, format, args...))
	}
	mxs, _, err := r.c.dns.MX(ctx, r.domain)
	switch {
	case errors.Is(err, dnsx.ErrNXDomain):
		add(domainNotFound, "%s does not exist: the MX query was answered NXDOMAIN", r.domain)
		return out
	case dnsx.IsNotFound(err):
		add(mxNone, "%s has no MX records, so senders deliver to the address of %s itself", r.domain, r.domain)
		out.facts.Implicit = true
		mxs = []*net.MX{{Host: r.domain + ".", Pref: 0}}
	case err != nil:
		add(dnsCode(mxDNSError, err), "MX lookup of %s failed temporarily: %s", r.domain, dnsReason(err))
		return out
	}

	var hosts []*net.MX
	seen := map[string]bool{}
	null := false
	for _, mx := range mxs {
		host := strings.TrimSuffix(mx.Host, ".")
		switch {
		case host == "":
			null = true
		case !seen[host]:
			seen[host] = true
			hosts = append(hosts, &net.MX{Host: host, Pref: mx.Pref})
		}
	}
	if null && len(hosts) == 0 {
		out.facts.Null = true
		add(mxNull, "%s publishes a null MX (\"0 .\"): it accepts no mail", r.domain)
		return out
	}
	if null {
		add(mxNullMixed, "%s publishes a null MX (\"0 .\") and %d other MX record(s)", r.domain, len(hosts))
	}

	reports := make([]*hostReport, len(hosts))
	var wg sync.WaitGroup
	for i, mx := range hosts {
		wg.Go(func() { reports[i] = r.c.hostReport(ctx, mx.Host) })
	}
	wg.Wait()
	for i, mx := range hosts {
		rep := reports[i]
		out.facts.Hosts = append(out.facts.Hosts, MXHostFacts{
			Host:       mx.Host,
			Preference: mx.Pref,
			Addresses:  rep.addrs,
			TLSA:       rep.tlsa,
		})
		out.findings = append(out.findings, rep.findings...)
	}
	return out
}
