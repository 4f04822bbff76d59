package tlsrptsend

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the sending side of RFC 8460 does, for Prometheus.
// A nil *Metrics counts nothing.
type Metrics struct {
	outcomes   *prometheus.CounterVec
	reports    *prometheus.CounterVec
	deliveries *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them on reg:
//
//	mtasts_tlsrpt_send_outcomes_total{result}
//	    result: success, or the RFC 8460 §4.3 result type
//	mtasts_tlsrpt_send_reports_total{outcome}
//	    outcome: built, skipped
//	mtasts_tlsrpt_send_deliveries_total{outcome}
//	    outcome: delivered, retried, failed, suppressed, unsendable
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_tlsrpt_send_outcomes_total",
			Help: "TLS outcomes of our sessions recorded for the reports we send, by result.",
		}, []string{"result"}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_tlsrpt_send_reports_total",
			Help: "Daily reports of policy domains built, or skipped (no _smtp._tls record, suppressed, too large).",
		}, []string{"outcome"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_tlsrpt_send_deliveries_total",
			Help: "Attempts at delivering a report to a rua, by what became of them.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.outcomes, m.reports, m.deliveries)
	return m
}

// outcome counts one outcome recorded.
func (m *Metrics) outcome(o *Outcome) {
	if m == nil {
		return
	}
	result := string(o.Result)
	switch {
	case o.Success():
		result = "success"
	case !o.Result.Known():
		result = "other"
	}
	m.outcomes.WithLabelValues(result).Inc()
}

// day counts the reports built and skipped of a day.
func (m *Metrics) day(built, skipped int) {
	if m == nil {
		return
	}
	m.reports.WithLabelValues("built").Add(float64(built))
	m.reports.WithLabelValues("skipped").Add(float64(skipped))
}

// delivered counts what a round of deliveries did.
func (m *Metrics) delivered(d Deliveries) {
	if m == nil {
		return
	}
	for outcome, n := range map[string]int{"delivered": d.Delivered, "retried": d.Retrying, "failed": d.Failed,
		"suppressed": d.Suppressed, "unsendable": d.Unsendable} {
		m.deliveries.WithLabelValues(outcome).Add(float64(n))
	}
}
