package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtasts/mtasts/reportstore"
)

// Metrics counts what an Ingester receives, for Prometheus.
type Metrics struct {
	reports  *prometheus.CounterVec
	sessions *prometheus.CounterVec
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
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_tlsrpt_reports_received_total",
			Help: "TLS reports received, by how they came and what became of them.",
		}, []string{"source", "outcome"}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_tlsrpt_sessions_total",
			Help: "Sessions counted by accepted TLS reports, by result.",
		}, []string{"result"}),
	}
	reg.MustRegister(m.reports, m.sessions)
	return m
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
