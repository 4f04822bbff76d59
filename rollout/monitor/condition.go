package monitor

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/rollout"
	"github.com/mtasts/mtasts/serve"
	"github.com/mtasts/mtasts/sts"
)

// Kind names a condition the monitor watches. The values are stable: they
// are the alertname of Alertmanager alerts and the condition label of
// the metrics.
type Kind string

// The conditions, in the order of Kinds.
const (
	// KindPolicyCertExpiry: the policy host's certificate expires soon or
	// has expired (RFC 8461 §3.3).
	KindPolicyCertExpiry Kind = "policy-cert-expiry"
	// KindPolicyFetch: a sender cannot fetch the policy (RFC 8461 §3.3).
	KindPolicyFetch Kind = "policy-fetch"
	// KindSTSRecordMissing: the _mta-sts TXT record is missing or not
	// valid (RFC 8461 §3.1).
	KindSTSRecordMissing Kind = "sts-record-missing"
	// KindSTSRecordID: the published id is not the id of the policy
	// served, so senders holding the old policy do not refetch it.
	KindSTSRecordID Kind = "sts-record-id"
	// KindMXNotCovered: a live MX host is not matched by the served
	// policy (RFC 8461 §4.1).
	KindMXNotCovered Kind = "mx-not-covered"
	// KindMXCertExpiry: an MX host's certificate expires soon or has
	// expired (RFC 8461 §4.2).
	KindMXCertExpiry Kind = "mx-cert-expiry"
	// KindTLSRPTRecord: the _smtp._tls TXT record is missing or not valid
	// (RFC 8460 §3).
	KindTLSRPTRecord Kind = "tlsrpt-record"
	// KindFailureRate: the TLS reports of the failure window count more
	// failed sessions than the threshold (RFC 8460 §4.4).
	KindFailureRate Kind = "tlsrpt-failure-rate"
	// KindNewResultType: a result type (RFC 8460 §4.3) reported in the
	// failure window and not in the baseline before it.
	KindNewResultType Kind = "tlsrpt-new-result-type"
	// KindTestingReady: a domain left in mode testing although its
	// readiness verdict has been ready for a while.
	KindTestingReady Kind = "testing-ready"
)

// Kinds lists every condition.
var Kinds = []Kind{KindPolicyCertExpiry, KindPolicyFetch, KindSTSRecordMissing, KindSTSRecordID, KindMXNotCovered,
	KindMXCertExpiry, KindTLSRPTRecord, KindFailureRate, KindNewResultType, KindTestingReady}

// Severity is how urgent a condition is.
type Severity string

// The severities, mildest first.
const (
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// rank orders severities for escalation.
func (s Severity) rank() int {
	if s == Critical {
		return 2
	}
	return 1
}

// Condition is one problem found on a domain.
type Condition struct {
	Kind     Kind
	Subject  string
	Severity Severity
	Message  string
	Fix      string
	// Hold is how long the condition must last before it alerts.
	Hold time.Duration
}

// Thresholds tune the conditions; zero fields take the defaults of the
// [serve.monitor] section (serve.DefaultMonitor).
type Thresholds = serve.MonitorThresholds

// ThresholdsOf returns the thresholds mc sets.
func ThresholdsOf(mc serve.Monitor) Thresholds { return mc.MonitorThresholds }

// Observation is what one round saw of one domain.
type Observation struct {
	Domain string
	// Served is the policy the server serves, with its id.
	Served rollout.ServedPolicy
	// Check is the live check of the domain (package check).
	Check *check.Result
	// Reports sums the TLS reports of the failure window; nil without a
	// report store.
	Reports *ReportStats
	// Verdict is the readiness verdict, made for domains in mode testing
	// only.
	Verdict *rollout.Verdict
}

// ReportStats are the TLS reports of one domain in the failure window.
type ReportStats struct {
	Sessions, Failed int64
	// New are the result types of the window not reported in the
	// baseline before it, sorted.
	New []string
}

// Judge returns the conditions o shows at now. It does no I/O.
func Judge(o Observation, th Thresholds, now time.Time) []Condition {
	th = th.WithDefaults()
	var out []Condition
	add := func(c Condition) { out = append(out, c) }
	if res := o.Check; res != nil {
		judgeRecord(res, o, add)
		judgePolicyHost(res, th, now, add)
		judgeMX(res, o.Served, th, now, add)
		if len(res.Facts.TLSRPT.RUA) == 0 && !res.Facts.MX.Null {
			add(Condition{Kind: KindTLSRPTRecord, Subject: res.Facts.TLSRPT.Name, Severity: Warning,
				Message: firstMessage(res, check.AreaTLSRPT, "no valid TLS-RPT record: no reports arrive"),
				Fix:     fmt.Sprintf(`publish %s TXT "v=TLSRPTv1; rua=mailto:…" (RFC 8460 §3)`, res.Facts.TLSRPT.Name)})
		}
	}
	if r := o.Reports; r != nil && r.Sessions >= th.MinSessions && float64(r.Failed) > th.FailureRate*float64(r.Sessions) {
		add(Condition{Kind: KindFailureRate, Subject: o.Domain, Severity: Critical,
			Message: fmt.Sprintf("%d of %d sessions reported in the last %s failed (%.1f%%, threshold %.1f%%)",
				r.Failed, r.Sessions, window(th.FailureWindow), 100*float64(r.Failed)/float64(r.Sessions), 100*th.FailureRate),
			Fix: "read the failures of the reports (mtasts reports summary, or the dashboard) and fix the MX hosts they name"})
	}
	if r := o.Reports; r != nil {
		for _, rt := range r.New {
			add(Condition{Kind: KindNewResultType, Subject: rt, Severity: Warning,
				Message: fmt.Sprintf("senders report %s failures, which they did not report in the %s before", rt, window(th.Baseline)),
				Fix:     "read the reports of " + rt + " failures (mtasts reports list --failures) and fix what they name"})
		}
	}
	if v := o.Verdict; v != nil && o.Served.Mode == sts.ModeTesting && v.Status == rollout.Ready {
		add(Condition{Kind: KindTestingReady, Subject: o.Domain, Severity: Warning, Hold: th.ReadyFor,
			Message: fmt.Sprintf("in mode testing although ready to enforce for %s: senders do not protect its mail", window(th.ReadyFor)),
			Fix:     "mtasts promote " + o.Domain + " --apply"})
	}
	return out
}

// judgeRecord judges the _mta-sts record against the served policy.
func judgeRecord(res *check.Result, o Observation, add func(Condition)) {
	rec := res.Facts.Record
	switch {
	case res.Facts.MX.Null:
	case !rec.Valid:
		add(Condition{Kind: KindSTSRecordMissing, Subject: rec.Name, Severity: Critical,
			Message: firstMessage(res, check.AreaRecord, "no valid MTA-STS record: senders find no policy"),
			Fix:     fmt.Sprintf(`publish %s TXT "v=STSv1; id=%s;" (RFC 8461 §3.1)`, rec.Name, o.Served.ID)})
	case o.Served.ID != "" && rec.ID != o.Served.ID:
		add(Condition{Kind: KindSTSRecordID, Subject: rec.Name, Severity: Warning,
			Message: fmt.Sprintf("the record publishes id %s, the policy served has id %s: senders holding an older policy do not fetch it", rec.ID, o.Served.ID),
			Fix:     fmt.Sprintf(`publish %s TXT "v=STSv1; id=%s;" (RFC 8461 §3.1)`, rec.Name, o.Served.ID)})
	}
}

// judgePolicyHost judges the policy fetch and the policy host's
// certificate.
func judgePolicyHost(res *check.Result, th Thresholds, now time.Time, add func(Condition)) {
	host := res.Facts.PolicyHost
	if host == nil {
		return
	}
	if res.Facts.Policy == nil {
		add(Condition{Kind: KindPolicyFetch, Subject: host.Name, Severity: Critical,
			Message: firstMessage(res, check.AreaPolicyHost, "the policy could not be fetched"),
			Fix:     "serve the policy at " + host.URL + " with a valid certificate (RFC 8461 §3.3)"})
	}
	if host.TLS != nil && host.TLS.Certificate != nil {
		if c, ok := certCondition(KindPolicyCertExpiry, host.Name, host.TLS.Certificate.NotAfter, th, now); ok {
			add(c)
		}
	}
}

// judgeMX judges the live MX hosts: covered by the served policy, and
// their certificates.
func judgeMX(res *check.Result, served rollout.ServedPolicy, th Thresholds, now time.Time, add func(Condition)) {
	policy := sts.Policy{MX: served.MX}
	for _, h := range res.Facts.MX.Hosts {
		if served.Mode != sts.ModeNone && !policy.Match(h.Host) {
			sev := Warning
			if served.Mode == sts.ModeEnforce {
				sev = Critical
			}
			add(Condition{Kind: KindMXNotCovered, Subject: h.Host, Severity: sev,
				Message: fmt.Sprintf("live MX host %s is not covered by the served policy (mx %s)", h.Host, strings.Join(served.MX, ", ")),
				Fix:     "add " + h.Host + " to the mx of the domain in mtasts.toml, or remove the MX record (RFC 8461 §4.1)"})
		}
		var notAfter time.Time
		for _, a := range h.Addresses {
			if a.TLS != nil && a.TLS.Certificate != nil && (notAfter.IsZero() || a.TLS.Certificate.NotAfter.Before(notAfter)) {
				notAfter = a.TLS.Certificate.NotAfter
			}
		}
		if !notAfter.IsZero() {
			if c, ok := certCondition(KindMXCertExpiry, h.Host, notAfter, th, now); ok {
				add(c)
			}
		}
	}
}

// certCondition is the condition of a certificate of host expiring at
// notAfter, if it expires within th.CertWarning.
func certCondition(kind Kind, host string, notAfter time.Time, th Thresholds, now time.Time) (Condition, bool) {
	left := notAfter.Sub(now)
	if left > th.CertWarning {
		return Condition{}, false
	}
	c := Condition{Kind: kind, Subject: host, Severity: Warning,
		Message: fmt.Sprintf("the certificate of %s expires on %s, in %s", host, notAfter.UTC().Format(time.DateTime), window(left)),
		Fix:     "renew the certificate of " + host}
	if left <= th.CertCritical {
		c.Severity = Critical
	}
	if left <= 0 {
		c.Message = fmt.Sprintf("the certificate of %s expired on %s", host, notAfter.UTC().Format(time.DateTime))
	}
	return c, true
}

// firstMessage returns the message of the worst finding of area in res,
// or def.
func firstMessage(res *check.Result, area check.Area, def string) string {
	i := slices.IndexFunc(res.Findings, func(f check.Finding) bool { return f.Area() == area && f.Severity == check.SeverityError })
	if i < 0 {
		i = slices.IndexFunc(res.Findings, func(f check.Finding) bool { return f.Area() == area && f.Severity == check.SeverityWarning })
	}
	if i < 0 {
		return def
	}
	return res.Findings[i].Message
}

// window writes a duration in days when it is whole days, else as Go
// does, rounded to the minute.
func window(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d >= day && d%day == 0:
		return fmt.Sprintf("%d days", d/day)
	case d >= day:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	}
	return d.Round(time.Minute).String()
}
