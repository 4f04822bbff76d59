package tlsrptsend

import (
	"net/netip"
	"strings"
	"time"

	"github.com/mtasts/mtasts/deliver"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
)

// STSPolicy returns an MTA-STS policy of domain as a report states it
// (RFC 8460 §4.4): type sts, the policy's lines as policy-string, its mx
// patterns as mx-host.
func STSPolicy(domain string, p *sts.Policy) tlsrpt.Policy {
	lines := strings.Split(strings.TrimSuffix(p.String(), "\r\n"), "\r\n")
	return tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: normalDomain(domain), Strings: lines, MXHosts: append([]string(nil), p.MX...)}
}

// DeliverObserver turns the results of the deliver package into
// outcomes, so that a Go program sending with deliver.Sender reports as
// a sending MTA (RFC 8460 §4): each attempt that made an SMTP session
// with an MX host is one session, a success unless the attempt carries
// an RFC 8460 §4.3 result type. Attempts that made no session (an MX
// host not in the policy and not contacted, no connection, a timeout
// before TLS) are not sessions and are not counted. Domains whose
// policy was unknown (a temporary failure) or under DANE are not
// reported on.
type DeliverObserver struct {
	Recorder Recorder
	// SendingIP is this MTA's address, "sending-mta-ip" of the failure
	// details (required by RFC 8460 §4.4 for failures).
	SendingIP netip.Addr
	// Now stamps the outcomes; time.Now if nil.
	Now func() time.Time
}

// Observe records the sessions of res.
func (o *DeliverObserver) Observe(res *deliver.Result) {
	if res == nil {
		return
	}
	var pol tlsrpt.Policy
	switch res.Decision.Kind {
	case resolver.Enforce, resolver.Testing:
		if res.Decision.Policy == nil {
			return
		}
		pol = STSPolicy(res.Domain, res.Decision.Policy)
	case resolver.None, resolver.NoPolicy, "":
		pol = tlsrpt.Policy{Type: tlsrpt.PolicyNoPolicyFound, Domain: normalDomain(res.Domain)}
	default:
		return
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	for _, a := range res.Attempts {
		rip, ok := attemptIP(a.Addr)
		if !ok || !a.TLS && a.ResultType == "" && a.Outcome != deliver.OutcomeDelivered && a.Outcome != deliver.OutcomeSMTPError {
			continue // no session with the MX host
		}
		o.Recorder.Record(Outcome{
			Time: now(), Policy: pol, MXHost: normalDomain(a.Host), ReceivingIP: rip, SendingIP: o.SendingIP,
			Result: a.ResultType, AdditionalInfo: errText(a),
		})
	}
}

// attemptIP returns the IP address of an attempt's remote ip:port.
func attemptIP(addr string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// errText is what the outcome of a failed attempt says about it.
func errText(a deliver.Attempt) string {
	if a.ResultType == "" || a.Err == nil {
		return ""
	}
	return a.Err.Error()
}
