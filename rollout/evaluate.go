package rollout

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
)

// Report is the evidence of a verdict with the sums it was judged by.
type Report struct {
	Evidence
	// Sessions and Failures are the totals of the window.
	Sessions int64 `json:"sessions"`
	Failures int64 `json:"failed_sessions"`
	// ByOrganization, ByResultType and ByMXHost break the sessions and
	// failures down.
	ByOrganization []Tally   `json:"by_organization"`
	ByResultType   []Tally   `json:"by_result_type"`
	ByMXHost       []MXTally `json:"by_mx_host"`
}

// Tally is the sessions and failures of one organisation or result type.
// For a result type, Sessions is every session of the window.
type Tally struct {
	Key         string  `json:"key"`
	Sessions    int64   `json:"sessions"`
	Failures    int64   `json:"failures"`
	FailureRate float64 `json:"failure_rate"`
}

// MXTally is the failures at one receiving MX host.
type MXTally struct {
	Tally
	// InPolicy reports that an mx pattern of the served policy matches
	// the host.
	InPolicy bool `json:"in_policy"`
	// NeverSucceeded reports that every failure reported for the host
	// came from a policy result without successful sessions: no sender
	// was seen delivering through it (RFC 8460 counts successes per
	// policy, not per MX host).
	NeverSucceeded bool `json:"never_succeeded"`
}

// Evaluate judges ev by th (zero fields meaning their defaults): NotReady
// with every blocking reason, else InsufficientData with what is
// missing, else Ready. It does no I/O.
func Evaluate(ev Evidence, th Thresholds) Verdict {
	th = th.withDefaults()
	rep := tally(ev)
	v := Verdict{Domain: ev.Domain, WindowDays: th.WindowDays(), Reasons: []Reason{}, Evidence: rep}
	add := func(r Reason) { v.Reasons = append(v.Reasons, r) }

	if ev.CheckError != "" {
		add(Reason{Code: CodeCheckFailed, Message: fmt.Sprintf("the live check of %s could not run (%s): check the resolver and the network, then ask again", ev.Domain, ev.CheckError)})
	}
	if ev.CheckError == "" && len(ev.LiveMX) == 0 {
		add(Reason{Code: CodeNoLiveMX, Message: fmt.Sprintf("the live check found no MX host of %s to validate: publish its MX records (or see mtasts check %s), then ask again", ev.Domain, ev.Domain)})
	}
	for _, mx := range ev.LiveMX {
		switch {
		case !mx.Covered:
			add(Reason{Code: CodeMXNotCovered, MXHost: mx.Host, Message: fmt.Sprintf(
				"live MX host %s matches no mx pattern of the served policy (%s), so senders enforcing it would not deliver there (RFC 8461 §4.1): add it to the mx list of %s in the configuration",
				mx.Host, strings.Join(ev.Policy.MX, ", "), ev.Domain)})
		case len(mx.Problems) > 0:
			add(Reason{Code: CodeMXFailsValidation, MXHost: mx.Host, Message: fmt.Sprintf(
				"live MX host %s fails validation now (RFC 8461 §4.2): %s; fix its STARTTLS and certificate, then ask again",
				mx.Host, strings.Join(mx.Problems, "; "))})
		}
	}
	for _, mx := range rep.ByMXHost {
		if mx.InPolicy && mx.NeverSucceeded {
			add(Reason{Code: CodeMXNeverSucceeded, MXHost: mx.Key, Sessions: ptr(rep.Sessions), Failures: ptr(mx.Failures), Message: fmt.Sprintf(
				"MX host %s of the policy failed %d sessions and no sender was seen delivering through it: fix its TLS (the failures below say how) or remove it from the MX records and the policy",
				mx.Key, mx.Failures)})
		}
	}
	pairs := failurePairs(ev)
	blockingPairs := 0
	for _, p := range pairs {
		if rate(p.failures, rep.Sessions) <= th.MaxFailureRate {
			continue
		}
		blockingPairs++
		r := Reason{ResultType: p.resultType, Sessions: ptr(rep.Sessions), Failures: ptr(p.failures)}
		if p.host == "" {
			r.Code = CodePolicyFailures
			r.Message = fmt.Sprintf("%d of %d sessions failed with %s (%s) while fetching or applying the policy: %s",
				p.failures, rep.Sessions, p.resultType, percent(p.failures, rep.Sessions), fixFor(p.resultType, ""))
		} else {
			r.Code, r.MXHost = CodeMXFailures, p.host
			r.Message = fmt.Sprintf("%d of %d sessions failed at %s with %s (%s): %s",
				p.failures, rep.Sessions, p.host, p.resultType, percent(p.failures, rep.Sessions), fixFor(p.resultType, p.host))
		}
		add(r)
	}
	if blockingPairs == 0 {
		// One sender failing much of what it sends, while the domain as
		// a whole stays under MaxFailureRate, is that sender's problem
		// made ours: under enforce its mail would stop.
		for _, o := range rep.ByOrganization {
			if o.Failures > 0 && o.FailureRate > th.MaxOrganizationFailureRate {
				add(Reason{Code: CodeOrganizationFailures, Organization: o.Key, Sessions: ptr(o.Sessions), Failures: ptr(o.Failures), Message: fmt.Sprintf(
					"%s failed %d of its %d sessions (%s, more than %s): read its reports (mtasts reports list --domain %s --org %q) and fix what they name, or ask it to",
					o.Key, o.Failures, o.Sessions, percent(o.Failures, o.Sessions), percentOf(th.MaxOrganizationFailureRate), ev.Domain, o.Key)})
			}
		}
	}
	if len(v.Reasons) > 0 {
		v.Status = NotReady
		return v
	}

	reporters := 0
	for _, o := range rep.ByOrganization {
		if o.Sessions > 0 {
			reporters++
		}
	}
	if reporters < th.MinOrganizations {
		add(Reason{Code: CodeTooFewOrganizations, Message: fmt.Sprintf(
			"%d organisation(s) reported sessions in the last %d days, %d are needed to judge: wait for more reports, and check that the _smtp._tls record of %s is published (RFC 8460 §3)",
			reporters, v.WindowDays, th.MinOrganizations, ev.Domain)})
	}
	if rep.Sessions < th.MinSessions {
		add(Reason{Code: CodeTooFewSessions, Sessions: ptr(rep.Sessions), Message: fmt.Sprintf(
			"the reports count %d sessions in the last %d days, %d are needed to judge: wait for more mail to arrive", rep.Sessions, v.WindowDays, th.MinSessions)})
	}
	if ev.Days < th.MinDays {
		add(Reason{Code: CodeTooFewDays, Message: fmt.Sprintf(
			"reports cover %d day(s) of the last %d, %d are needed to judge: wait a few more days", ev.Days, v.WindowDays, th.MinDays)})
	}
	if len(v.Reasons) > 0 {
		v.Status = InsufficientData
		return v
	}
	v.Status = Ready
	return v
}

// pair is the failures of one result type at one MX host ("" for
// failures of the policy itself).
type pair struct {
	host, resultType string
	failures         int64
}

// failurePairs sums the failures of ev per MX host and result type,
// largest first.
func failurePairs(ev Evidence) []pair {
	sums := map[[2]string]int64{}
	for _, g := range ev.Failures {
		sums[[2]string{g.MXHost, g.ResultType}] += g.Failed
	}
	out := make([]pair, 0, len(sums))
	for k, n := range sums {
		out = append(out, pair{host: k[0], resultType: k[1], failures: n})
	}
	slices.SortFunc(out, func(a, b pair) int {
		return cmp.Or(cmp.Compare(b.failures, a.failures), cmp.Compare(a.host, b.host), cmp.Compare(a.resultType, b.resultType))
	})
	return out
}

// tally sums ev up.
func tally(ev Evidence) Report {
	rep := Report{Evidence: ev, ByOrganization: []Tally{}, ByResultType: []Tally{}, ByMXHost: []MXTally{}}
	for _, o := range ev.Organizations {
		rep.Sessions += o.Sessions()
		rep.Failures += o.Failed
		rep.ByOrganization = append(rep.ByOrganization, newTally(o.Organization, o.Sessions(), o.Failed))
	}
	types := map[string]int64{}
	hosts := map[string]*MXTally{}
	for _, g := range ev.Failures {
		types[g.ResultType] += g.Failed
		if g.MXHost == "" {
			continue
		}
		h := hosts[g.MXHost]
		if h == nil {
			policy := sts.Policy{MX: ev.Policy.MX}
			h = &MXTally{Tally: Tally{Key: g.MXHost}, InPolicy: policy.Match(g.MXHost), NeverSucceeded: true}
			hosts[g.MXHost] = h
		}
		h.Failures += g.Failed
		h.NeverSucceeded = h.NeverSucceeded && g.WithSuccess == 0
	}
	for t, n := range types {
		rep.ByResultType = append(rep.ByResultType, newTally(t, rep.Sessions, n))
	}
	slices.SortFunc(rep.ByResultType, func(a, b Tally) int { return cmp.Compare(a.Key, b.Key) })
	for _, h := range hosts {
		h.Tally = newTally(h.Key, rep.Sessions, h.Failures)
		rep.ByMXHost = append(rep.ByMXHost, *h)
	}
	slices.SortFunc(rep.ByMXHost, func(a, b MXTally) int { return cmp.Compare(a.Key, b.Key) })
	return rep
}

func newTally(key string, sessions, failures int64) Tally {
	return Tally{Key: key, Sessions: sessions, Failures: failures, FailureRate: rate(failures, sessions)}
}

// rate is failures/sessions; a failure among no counted session is a
// rate of 1.
func rate(failures, sessions int64) float64 {
	switch {
	case failures == 0:
		return 0
	case sessions <= 0:
		return 1
	}
	return float64(failures) / float64(sessions)
}

func percent(failures, sessions int64) string { return percentOf(rate(failures, sessions)) }

func percentOf(r float64) string { return fmt.Sprintf("%.2f %%", 100*r) }

func ptr(n int64) *int64 { return &n }

// fixFor says what to do about failures of result type rt (RFC 8460
// §4.3) at MX host host.
func fixFor(rt, host string) string {
	switch tlsrpt.ResultType(rt) {
	case tlsrpt.ResultSTARTTLSNotSupported:
		return "offer STARTTLS on " + host + " (RFC 3207)"
	case tlsrpt.ResultCertificateExpired:
		return "renew the certificate of " + host + " and make sure the renewal is installed"
	case tlsrpt.ResultCertificateHostMismatch:
		return "serve on " + host + " a certificate whose names include " + host + " (RFC 8461 §4.2)"
	case tlsrpt.ResultCertificateNotTrusted:
		return "serve on " + host + " a certificate from a public CA with its whole intermediate chain"
	case tlsrpt.ResultValidationFailure:
		return "check the TLS configuration of " + host + " (protocol versions, chain); the reports' failure reason codes say more"
	case tlsrpt.ResultTLSAInvalid, tlsrpt.ResultDNSSECInvalid, tlsrpt.ResultDANERequired:
		return "fix the TLSA records of " + host + " or its certificate so that they match (RFC 7672)"
	case tlsrpt.ResultSTSPolicyFetchError:
		return "make sure https://mta-sts.<domain>/.well-known/mta-sts.txt answers 200 from everywhere (RFC 8461 §3.3)"
	case tlsrpt.ResultSTSPolicyInvalid:
		return "serve a valid policy and a valid _mta-sts record (mtasts policy lint, RFC 8461 §3)"
	case tlsrpt.ResultSTSWebPKIInvalid:
		return "serve on the policy host a certificate valid for mta-sts.<domain> from a public CA (RFC 8461 §3.3)"
	}
	if host == "" {
		return "read the reports' failure details (mtasts reports list) and fix what they name"
	}
	return "read the reports' failure details for " + host + " (mtasts reports list) and fix what they name"
}
