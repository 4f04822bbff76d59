package tlsrptsend

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// Aggregator sums outcomes into what the reports of RFC 8460 §4 need: per
// UTC day (§4.1: one report per day), per policy domain and per policy
// applied, the session counts (§4.4 "summary") and the failures grouped by
// result type, sending MTA IP, receiving MX host name and receiving IP
// (§4.4 "failure-details"). It is safe for concurrent use.
type Aggregator struct {
	mu   sync.Mutex
	days map[dayDomain][]*policyTotals // one per policy applied, usually one
}

type dayDomain struct {
	day    int64 // Unix seconds of the UTC midnight
	domain string
}

type policyTotals struct {
	policy   tlsrpt.Policy
	summary  tlsrpt.Summary
	failures map[failureKey]*tlsrpt.FailureDetail
}

type failureKey struct {
	result     tlsrpt.ResultType
	sending    netip.Addr
	mx         string
	receiving  netip.Addr
	info, code string
}

// NewAggregator returns an empty Aggregator.
func NewAggregator() *Aggregator {
	return &Aggregator{days: map[dayDomain][]*policyTotals{}}
}

// Day returns the UTC day t falls in, as its midnight (RFC 8460 §4.1).
func Day(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// Record adds o to its day, domain and policy.
func (a *Aggregator) Record(o Outcome) {
	dd := dayDomain{Day(o.Time).Unix(), normalDomain(o.Policy.Domain)}
	a.mu.Lock()
	defer a.mu.Unlock()
	var pt *policyTotals
	for _, c := range a.days[dd] {
		if samePolicy(c.policy, o.Policy) {
			pt = c
			break
		}
	}
	if pt == nil {
		p := o.Policy
		p.Domain = dd.domain
		p.Strings = slices.Clone(p.Strings)
		p.MXHosts = slices.Clone(p.MXHosts)
		pt = &policyTotals{policy: p, failures: map[failureKey]*tlsrpt.FailureDetail{}}
		a.days[dd] = append(a.days[dd], pt)
	}
	if o.Success() {
		pt.summary.Successful++
		return
	}
	pt.summary.Failed++
	fk := failureKey{o.Result, o.SendingIP, normalDomain(o.MXHost), o.ReceivingIP, o.AdditionalInfo, o.ReasonCode}
	fd := pt.failures[fk]
	if fd == nil {
		fd = &tlsrpt.FailureDetail{
			ResultType:            o.Result,
			SendingMTAIP:          o.SendingIP,
			ReceivingMXHostname:   fk.mx,
			ReceivingIP:           o.ReceivingIP,
			AdditionalInformation: o.AdditionalInfo,
			FailureReasonCode:     o.ReasonCode,
		}
		pt.failures[fk] = fd
	}
	fd.FailedSessionCount++
}

// Domains returns the policy domains with outcomes on the UTC day of day,
// sorted.
func (a *Aggregator) Domains(day time.Time) []string {
	d := Day(day).Unix()
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for dd := range a.days {
		if dd.day == d {
			out = append(out, dd.domain)
		}
	}
	slices.Sort(out)
	return out
}

// Results returns the "policies" of the report for domain on the UTC day
// of day (RFC 8460 §4.4): one element per policy applied, in a stable
// order, failure details sorted by result type, receiving MX host name,
// receiving IP and sending IP.
func (a *Aggregator) Results(day time.Time, domain string) []tlsrpt.PolicyResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	return results(a.days[dayDomain{Day(day).Unix(), normalDomain(domain)}])
}

// DayResults are the policy results of one policy domain on one UTC day
// (midnight UTC), as the report store adds them.
type DayResults = reportstore.DayOutcomes

// Take returns everything recorded, by day and domain, and empties the
// Aggregator: what a Recorder that stores outcomes writes out.
func (a *Aggregator) Take() []DayResults {
	a.mu.Lock()
	days := a.days
	a.days = map[dayDomain][]*policyTotals{}
	a.mu.Unlock()
	out := make([]DayResults, 0, len(days))
	for dd, pts := range days {
		out = append(out, DayResults{Day: time.Unix(dd.day, 0).UTC(), Domain: dd.domain, Results: results(pts)})
	}
	slices.SortFunc(out, func(x, y DayResults) int {
		return cmp.Or(x.Day.Compare(y.Day), strings.Compare(x.Domain, y.Domain))
	})
	return out
}

// results returns the report's "policies" of the totals of one domain
// and day, in a stable order.
func results(pts []*policyTotals) []tlsrpt.PolicyResult {
	byPolicy := slices.Clone(pts)
	slices.SortFunc(byPolicy, func(x, y *policyTotals) int { return strings.Compare(policyKey(x.policy), policyKey(y.policy)) })
	var out []tlsrpt.PolicyResult
	for _, pt := range byPolicy {
		pr := tlsrpt.PolicyResult{Policy: pt.policy, Summary: pt.summary}
		pr.Policy.Strings = slices.Clone(pt.policy.Strings)
		pr.Policy.MXHosts = slices.Clone(pt.policy.MXHosts)
		for _, fd := range pt.failures {
			pr.FailureDetails = append(pr.FailureDetails, *fd)
		}
		slices.SortFunc(pr.FailureDetails, compareFailures)
		out = append(out, pr)
	}
	return out
}

// Forget drops everything recorded for the UTC day of day, once its
// reports are built.
func (a *Aggregator) Forget(day time.Time) {
	d := Day(day).Unix()
	a.mu.Lock()
	defer a.mu.Unlock()
	for dd := range a.days {
		if dd.day == d {
			delete(a.days, dd)
		}
	}
}

func compareFailures(x, y tlsrpt.FailureDetail) int {
	return cmp.Or(
		cmp.Compare(x.ResultType, y.ResultType),
		cmp.Compare(x.ReceivingMXHostname, y.ReceivingMXHostname),
		x.ReceivingIP.Compare(y.ReceivingIP),
		x.SendingMTAIP.Compare(y.SendingMTAIP),
		cmp.Compare(x.AdditionalInformation, y.AdditionalInformation),
		cmp.Compare(x.FailureReasonCode, y.FailureReasonCode),
	)
}

// samePolicy reports whether two outcomes were under the same policy as
// applied, and belong to the same "policies" element: same type, lines
// and mx patterns (the domain is compared before).
func samePolicy(x, y tlsrpt.Policy) bool {
	return x.Type == y.Type && slices.Equal(x.Strings, y.Strings) &&
		slices.EqualFunc(x.MXHosts, y.MXHosts, strings.EqualFold)
}

// policyKey orders policies: type, then lines, then mx patterns.
func policyKey(p tlsrpt.Policy) string {
	var b strings.Builder
	b.WriteString(string(p.Type))
	for _, s := range p.Strings {
		b.WriteString("\x00s")
		b.WriteString(s)
	}
	for _, m := range p.MXHosts {
		b.WriteString("\x00m")
		b.WriteString(strings.ToLower(m))
	}
	return b.String()
}

// normalDomain lower-cases a domain name and drops its trailing dot.
func normalDomain(s string) string { return strings.TrimSuffix(strings.ToLower(s), ".") }
