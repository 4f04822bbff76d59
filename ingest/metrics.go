package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtasts/mtasts/reportstore"
)

// Metrics counts what an Ingester receives, for Prometheus.
type Metrics struct {
	reg         prometheus.Registerer
	reports     *prometheus.CounterVec
	sessions    *prometheus.CounterVec
	refused     *prometheus.CounterVec
	smtpRefused *prometheus.CounterVec
	evicted     prometheus.Counter
}

// NewMetrics creates the metrics and registers them on reg:
//
//	mtasts_tlsrpt_reports_received_total{source, outcome}
//	    source: https, file, imap, smtp
//	    outcome: accepted, duplicate, quarantined, error
//	mtasts_tlsrpt_sessions_total{result}
//	    sessions counted by accepted reports: "successful", or the failure's
//	    result type of RFC 8460 §4.3 ("other" for unregistered ones,
//	    "unspecified" for failures counted without failure-details)
//	mtasts_tlsrpt_http_refused_total{limit}
//	    report POSTs refused by a limit before they were read: "memory"
//	    (503, the memory budget is spent), "client_busy" (429, too many
//	    at once from one client), "reject_rate" (429, too many bodies
//	    that were not reports from one client)
//	mtasts_tlsrpt_smtp_refused_total{limit}
//	    report mail connections answered 421 and closed at once: "total"
//	    (too many open), "per_ip" (too many open from one client), as
//	    mtasts_serve_connections_rejected_total names them for HTTPS
//	mtasts_tlsrpt_quarantine_evicted_total
//	    quarantine entries evicted to keep within its bounds
//
// and, once Handler is called, the gauges of its memory budget:
//
//	mtasts_tlsrpt_http_memory_bytes       held now by report POSTs
//	mtasts_tlsrpt_http_memory_peak_bytes  the most ever held at once
//	mtasts_tlsrpt_http_memory_limit_bytes the budget
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reg: reg,
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_tlsrpt_http_refused_total",
			Help: "Report POSTs refused by a limit before their body was read, by limit.",
		}, []string{"limit"}),
		smtpRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_tlsrpt_smtp_refused_total",
			Help: "Report mail connections refused by a limit, answered 421 and closed at once, by limit.",
		}, []string{"limit"}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mtasts_tlsrpt_quarantine_evicted_total",
			Help: "Quarantine entries evicted to keep the quarantine within its bounds.",
		}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_tlsrpt_reports_received_total",
			Help: "TLS reports received, by how they came and what became of them.",
		}, []string{"source", "outcome"}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_tlsrpt_sessions_total",
			Help: "Sessions counted by accepted TLS reports, by result.",
		}, []string{"result"}),
	}
	reg.MustRegister(m.reports, m.sessions, m.refused, m.smtpRefused, m.evicted)
	// The limits that alerts watch exist from the start, at 0.
	for _, limit := range []string{"memory", "client_busy", "reject_rate"} {
		m.refused.WithLabelValues(limit)
	}
	for _, limit := range []string{"total", "per_ip"} {
		m.smtpRefused.WithLabelValues(limit)
	}
	return m
}

// watchBudget exports the gauges of b; only the first budget watched is
// exported.
func (m *Metrics) watchBudget(b *memoryBudget) {
	if m == nil {
		return
	}
	for _, g := range []struct {
		name, help string
		f          func() float64
	}{
		{"mtasts_tlsrpt_http_memory_bytes", "Memory held now by report POST bodies and their parsing, as reserved from the budget.", func() float64 { return float64(b.used.Load()) }},
		{"mtasts_tlsrpt_http_memory_peak_bytes", "The most memory report POSTs held at once since the start.", func() float64 { return float64(b.peak.Load()) }},
		{"mtasts_tlsrpt_http_memory_limit_bytes", "The memory budget of report POSTs.", func() float64 { return float64(b.size) }},
	} {
		if err := m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: g.name, Help: g.help}, g.f)); err != nil {
			return // already registered by an earlier Handler
		}
	}
}

// refuse counts a POST refused by limit.
func (m *Metrics) refuse(limit string) {
	if m != nil {
		m.refused.WithLabelValues(limit).Inc()
	}
}

// refuseSMTP counts a report mail connection refused by limit.
func (m *Metrics) refuseSMTP(limit string) {
	if m != nil {
		m.smtpRefused.WithLabelValues(limit).Inc()
	}
}

// observe counts one input.
func (m *Metrics) observe(src reportstore.Source, o *Outcome) {
	if m == nil {
		return
	}
	outcome := string(o.Outcome)
	if o.Err != nil {
		outcome = "error"
	}
	m.reports.WithLabelValues(string(src), outcome).Inc()
	m.evicted.Add(float64(o.Evicted))
	if o.Outcome != reportstore.Accepted || o.report == nil {
		return
	}
	for _, p := range o.report.Policies {
		m.sessions.WithLabelValues("successful").Add(float64(p.Summary.Successful))
		if len(p.FailureDetails) == 0 {
			m.sessions.WithLabelValues("unspecified").Add(float64(p.Summary.Failed))
		}
		for _, f := range p.FailureDetails {
			result := string(f.ResultType)
			if !f.ResultType.Known() {
				result = "other"
			}
			m.sessions.WithLabelValues(result).Add(float64(f.FailedSessionCount))
		}
	}
}
