package check

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/mtasts/mtasts/sts"
)

// judgeMX compares the policy with the MX hosts (RFC 8461 §4.1) and with
// what the probes found (§4.2): every MX host must match a pattern, every
// pattern should match a host, and in enforce mode a host that fails
// validation is one senders will not deliver to (§5). It sets the Covered
// fact of each host. A policy in mode none is not applied by senders and
// is not compared.
func (r *run) judgeMX(p *sts.Policy, mx *MXFacts, hostFindings []Finding) []Finding {
	if p == nil || p.Mode == sts.ModeNone {
		return nil
	}
	url := sts.PolicyURL(r.domain)
	var fs []Finding
	// Why each host fails validation, in MX order.
	var failing []string
	reasons := map[string][]string{}
	for i := range mx.Hosts {
		h := &mx.Hosts[i]
		covered := p.Match(h.Host)
		h.Covered = &covered
		if !covered {
			f := newFinding(mxNotCovered, h.Host, "MX host %s matches none of the policy's mx patterns (%s)", h.Host, strings.Join(p.MX, ", "))
			f.host = h.Host
			fs = append(fs, f)
			reasons[h.Host] = append(reasons[h.Host], string(mxNotCovered))
		}
		for _, f := range hostFindings {
			if f.host == h.Host && f.Blocks() {
				reasons[h.Host] = append(reasons[h.Host], reason(f))
			}
		}
		if len(reasons[h.Host]) > 0 {
			failing = append(failing, h.Host)
		}
	}
	for _, pat := range p.MX {
		if len(mx.Hosts) == 0 || r.patternUsed(pat, mx.Hosts) {
			continue
		}
		if _, err := netip.ParseAddr(strings.TrimSuffix(pat, ".")); err == nil {
			continue // reported as policy-mx-ip
		}
		fs = append(fs, newFinding(policyMXUnused, url, "mx pattern %q matches none of the MX hosts of %s", pat, r.domain))
	}

	switch p.Mode {
	case sts.ModeEnforce:
		all := len(failing) == len(mx.Hosts) && len(mx.Hosts) > 0
		for _, h := range failing {
			msg := fmt.Sprintf("enforce would block delivery to %s: %s", h, strings.Join(reasons[h], ", "))
			if all {
				msg += fmt.Sprintf("; no MX host passes, so senders honouring MTA-STS would deliver no mail to %s", r.domain)
			}
			f := newFinding(enforceBlocksMX, h, "%s", msg)
			f.host = h
			fs = append(fs, f)
		}
	case sts.ModeTesting:
		fs = append(fs, newFinding(policyModeTesting, url, "%s", r.testingMessage(mx, failing, reasons)))
	}
	return fs
}

// testingMessage says what enforce mode would change.
func (r *run) testingMessage(mx *MXFacts, failing []string, reasons map[string][]string) string {
	const head = "mode testing: senders deliver even when validation fails and only report it; "
	if len(failing) > 0 {
		var parts []string
		for _, h := range failing {
			parts = append(parts, h+" ("+strings.Join(reasons[h], ", ")+")")
		}
		return head + "under enforce, delivery would fail to " + strings.Join(parts, "; ")
	}
	switch {
	case len(mx.Hosts) == 0:
		return head + "the MX hosts are unknown, so whether enforce would block delivery cannot be told"
	case !mx.Probed:
		return head + "every MX host is covered by a pattern; port 25 was not probed (--no-mx), so TLS was not verified"
	}
	return head + "every MX host passes validation, so enforce would not block delivery"
}

// patternUsed reports whether pattern matches one of the hosts.
func (r *run) patternUsed(pattern string, hosts []MXHostFacts) bool {
	for _, h := range hosts {
		if sts.MatchPattern(pattern, h.Host) {
			return true
		}
	}
	return false
}

// reason names a blocking finding for the consistency messages, such as
// "mx-cert-expired at 192.0.2.25".
func reason(f Finding) string {
	if f.addr != "" {
		return string(f.Code) + " at " + f.addr
	}
	return string(f.Code)
}
