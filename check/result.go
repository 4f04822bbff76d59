package check

import (
	"fmt"
	"strings"
)

// Result is the outcome of checking one domain: what senders following
// RFC 8461 would do with it (Verdict), what is wrong (Findings) and what
// was observed (Facts).
type Result struct {
	Domain  string  `json:"domain"`
	Verdict Verdict `json:"verdict"`
	// Findings are sorted by area, subject and code.
	Findings []Finding `json:"findings"`
	Facts    Facts     `json:"facts"`
}

// Verdict sums a Result up.
type Verdict struct {
	// Policy is what a sending MTA without a cached policy would apply
	// (RFC 8461 §5): one of the Policy constants.
	Policy string `json:"policy"`
	// Status is "error" if any finding is an error, else "warning" if any
	// is a warning, else "ok".
	Status   string `json:"status"`
	Errors   int    `json:"errors"`
	Warnings int    `json:"warnings"`
	Infos    int    `json:"infos"`
	// Summary is the verdict for people, such as
	// "MTA-STS enforce — 2 errors, 1 warning".
	Summary string `json:"summary"`
}

// Values of Verdict.Policy.
const (
	// PolicyEnforce: senders deliver only over validated TLS to MX hosts
	// matching the policy (RFC 8461 §5).
	PolicyEnforce = "enforce"
	// PolicyTesting: senders deliver anyway and report failures.
	PolicyTesting = "testing"
	// PolicyNone: senders act as if there were no policy.
	PolicyNone = "none"
	// PolicyNoPolicy: no usable record or policy; senders fall back to
	// opportunistic TLS.
	PolicyNoPolicy = "no-policy"
	// PolicyTempfail: the _mta-sts lookup failed temporarily; senders
	// without a cached policy try again later.
	PolicyTempfail = "tempfail"
	// PolicyResolverTimeout: the resolver the check asked did not answer
	// the _mta-sts lookup in time; the policy is unknown, and this is not
	// the domain's failure.
	PolicyResolverTimeout = "resolver-timeout"
)

// Values of Verdict.Status.
const (
	StatusOK      = "ok"
	StatusWarning = "warning"
	StatusError   = "error"
)

// ResolverTimedOut reports whether a DNS lookup of the check got no
// answer in time from the resolver (finding code "resolver-timeout"):
// the result is incomplete through no fault of the domain.
func (r *Result) ResolverTimedOut() bool { return r.Has(resolverTimeout) }

// Has reports whether the result has a finding with code.
func (r *Result) Has(code Code) bool {
	for _, f := range r.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}

// assemble combines the outcomes of the parts of a check into a Result.
func (r *run) assemble(rec recordOutcome, pol policyOutcome, mx mxOutcome, rpt tlsrptOutcome) *Result {
	res := &Result{Domain: r.domain, Findings: []Finding{}}
	res.Facts.Record = rec.facts
	res.Facts.PolicyHost = pol.host
	res.Facts.MX = mx.facts
	res.Facts.TLSRPT = rpt.facts
	policy := pol.policy
	if policy != nil {
		res.Facts.Policy = &PolicyFacts{Mode: string(policy.Mode), MaxAge: policy.MaxAge, MX: nonNil(policy.MX), Text: pol.text}
	}

	fs := rec.findings
	// A domain without any trace of a record does not use MTA-STS: what
	// mta-sts.<domain> serves (often a catch-all web site) is no concern
	// of its senders, and is left out.
	if !rec.absent {
		fs = append(fs, pol.findings...)
		fs = append(fs, r.judgeMX(policy, &res.Facts.MX, mx.findings)...)
	}
	fs = append(fs, mx.findings...)
	fs = append(fs, rpt.findings...)
	if mx.facts.Null {
		// A domain that accepts no mail needs neither MTA-STS nor TLS-RPT.
		fs = dropCodes(fs, stsRecordMissing, tlsrptRecordMissing)
	}
	sortFindings(fs)
	res.Findings = append(res.Findings, fs...)

	v := &res.Verdict
	switch {
	case rec.resolverTimeout:
		v.Policy = PolicyResolverTimeout
	case rec.tempfail:
		v.Policy = PolicyTempfail
	case !rec.facts.Valid || policy == nil:
		v.Policy = PolicyNoPolicy
	default:
		v.Policy = string(policy.Mode)
	}
	for _, f := range res.Findings {
		switch f.Severity {
		case SeverityError:
			v.Errors++
		case SeverityWarning:
			v.Warnings++
		default:
			v.Infos++
		}
	}
	v.Status = StatusOK
	if v.Warnings > 0 {
		v.Status = StatusWarning
	}
	if v.Errors > 0 {
		v.Status = StatusError
	}
	v.Summary = summaryLine(v, mx.facts.Null)
	return res
}

// summaryLine is the verdict for people.
func summaryLine(v *Verdict, nullMX bool) string {
	var head string
	switch v.Policy {
	case PolicyNoPolicy:
		head = "no usable MTA-STS policy"
	case PolicyTempfail:
		head = "MTA-STS unknown (DNS failed temporarily)"
	case PolicyResolverTimeout:
		head = "MTA-STS unknown (our DNS resolver did not answer in time)"
	default:
		head = "MTA-STS " + v.Policy
	}
	if nullMX {
		head += ", accepts no mail (null MX)"
	}
	var counts []string
	if v.Errors > 0 {
		counts = append(counts, plural(v.Errors, "error"))
	}
	if v.Warnings > 0 {
		counts = append(counts, plural(v.Warnings, "warning"))
	}
	if len(counts) == 0 {
		return head + " — no problems"
	}
	return head + " — " + strings.Join(counts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// dropCodes returns fs without the findings of the given codes.
func dropCodes(fs []Finding, codes ...Code) []Finding {
	out := fs[:0]
	for _, f := range fs {
		drop := false
		for _, c := range codes {
			drop = drop || f.Code == c
		}
		if !drop {
			out = append(out, f)
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
