package monitor

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the monitor's collectors (docs/metrics.md, "Monitor").
type metrics struct {
	condition     *prometheus.GaugeVec
	certExpiry    *prometheus.GaugeVec
	failureRatio  *prometheus.GaugeVec
	sessions      *prometheus.GaugeVec
	lastCheck     *prometheus.GaugeVec
	checks        *prometheus.CounterVec
	checkDuration prometheus.Histogram
	leader        prometheus.Gauge
	alerts        *prometheus.CounterVec
	deliveries    *prometheus.CounterVec
}

// newMetrics makes the collectors and registers them on reg (nil: none).
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		condition: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mtasts_monitor_condition",
			Help: "Worst severity of each monitored condition of a served domain at its last check: 0 none, 1 warning, 2 critical. Condition: policy-cert-expiry, policy-fetch, sts-record-missing, sts-record-id, mx-not-covered, mx-cert-expiry, tlsrpt-record, tlsrpt-failure-rate, tlsrpt-new-result-type, testing-ready."},
			[]string{"domain", "condition"}),
		certExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mtasts_monitor_cert_expiry_timestamp_seconds",
			Help: "When the certificate of a served domain's policy host or MX host expires, as seen by the last check. Role: policy-host or mx."},
			[]string{"domain", "role", "host"}),
		failureRatio: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mtasts_monitor_tlsrpt_failure_ratio",
			Help: "Share of failed sessions in the TLS reports of a served domain's failure window (0 without sessions)."},
			[]string{"domain"}),
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mtasts_monitor_tlsrpt_sessions",
			Help: "Sessions counted by the TLS reports of a served domain's failure window."},
			[]string{"domain"}),
		lastCheck: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mtasts_monitor_last_check_timestamp_seconds",
			Help: "When a served domain was last checked by the monitor."},
			[]string{"domain"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mtasts_monitor_checks_total",
			Help: "Checks of served domains by the monitor. Result: ok, error (the check or the store failed)."},
			[]string{"result"}),
		checkDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mtasts_monitor_check_duration_seconds",
			Help: "Time the monitor took to check one served domain and read its reports.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mtasts_monitor_leader",
			Help: "1 while this process holds the monitor lease and watches the domains, else 0."}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mtasts_monitor_alerts_total",
			Help: "Alerts raised by the monitor. Status: firing, resolved."},
			[]string{"condition", "status"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mtasts_monitor_alert_deliveries_total",
			Help: "Deliveries of alerts to a channel (email, webhook[N], alertmanager[N]). Result: ok, error (retried later)."},
			[]string{"channel", "result"}),
	}
	if reg != nil {
		reg.MustRegister(m.condition, m.certExpiry, m.failureRatio, m.sessions, m.lastCheck, m.checks, m.checkDuration, m.leader, m.alerts, m.deliveries)
	}
	m.checks.WithLabelValues("ok")
	m.checks.WithLabelValues("error")
	return m
}

// observe sets the gauges of domain from one check.
func (m *metrics) observe(domain string, o Observation, conds []Condition, now time.Time) {
	worst := map[Kind]float64{}
	for _, c := range conds {
		worst[c.Kind] = max(worst[c.Kind], float64(c.Severity.rank()))
	}
	for _, k := range Kinds {
		m.condition.WithLabelValues(domain, string(k)).Set(worst[k])
	}
	if res := o.Check; res != nil {
		if h := res.Facts.PolicyHost; h != nil && h.TLS != nil && h.TLS.Certificate != nil {
			m.certExpiry.WithLabelValues(domain, "policy-host", h.Name).Set(float64(h.TLS.Certificate.NotAfter.Unix()))
		}
		for _, h := range res.Facts.MX.Hosts {
			for _, a := range h.Addresses {
				if a.TLS != nil && a.TLS.Certificate != nil {
					m.certExpiry.WithLabelValues(domain, "mx", h.Host).Set(float64(a.TLS.Certificate.NotAfter.Unix()))
				}
			}
		}
	}
	if r := o.Reports; r != nil {
		ratio := 0.0
		if r.Sessions > 0 {
			ratio = float64(r.Failed) / float64(r.Sessions)
		}
		m.failureRatio.WithLabelValues(domain).Set(ratio)
		m.sessions.WithLabelValues(domain).Set(float64(r.Sessions))
	}
	m.lastCheck.WithLabelValues(domain).Set(float64(now.Unix()))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
