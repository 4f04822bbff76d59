package policyhost

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Prometheus metrics of a Server, registered on the
// registry given in Options.
type metrics struct {
	requests      *prometheus.CounterVec
	certExpiry    *prometheus.GaugeVec
	connsRejected *prometheus.CounterVec
	connsOpen     prometheus.Gauge
	reloads       *prometheus.CounterVec
	policyInfo    *prometheus.GaugeVec
	mxChanges     *prometheus.CounterVec
	dnsUpdates    *prometheus.CounterVec

	// counters caches requests children: WithLabelValues hashes its labels
	// on every call, too slow for every request.
	counters sync.Map // requestKey → prometheus.Counter
}

type requestKey struct {
	domain string
	code   int
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_serve_requests_total",
			Help: "HTTP requests answered, by policy domain (empty for unknown hosts) and status code.",
		}, []string{"domain", "code"}),
		certExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mtasts_serve_certificate_expiry_timestamp_seconds",
			Help: "When each certificate expires, as a Unix time: those of the policy hosts (service \"https\", with their domain) and those of other services of the host, such as the report mail listener (service \"smtp\" or \"lmtp\", domain empty). host is the name the certificate is for, source \"file\" or \"acme\".",
		}, []string{"domain", "host", "service", "source"}),
		connsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_serve_connections_rejected_total",
			Help: "Connections closed at once because of a limit (per_ip or total).",
		}, []string{"reason"}),
		connsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mtasts_serve_connections_open",
			Help: "Connections open on the HTTPS and HTTP listeners.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_serve_config_reloads_total",
			Help: "Configuration loads, by result (success or failure).",
		}, []string{"result"}),
		policyInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mtasts_serve_policy_info",
			Help: "The policy served for each domain: always 1, with its id and mode.",
		}, []string{"domain", "id", "mode"}),
		mxChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_serve_auto_mx_changes_total",
			Help: "Changes of the live MX set of mx \"auto\" domains.",
		}, []string{"domain"}),
		dnsUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_serve_dns_updates_total",
			Help: "RFC 2136 updates of _mta-sts TXT records, by result.",
		}, []string{"domain", "result"}),
	}
	reg.MustRegister(m.requests, m.certExpiry, m.connsRejected, m.connsOpen, m.reloads, m.policyInfo, m.mxChanges, m.dnsUpdates)
	// Rare events that alerts watch exist from the start, at 0
	// (docs/metrics.md).
	m.connsRejected.WithLabelValues("per_ip")
	m.connsRejected.WithLabelValues("total")
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	return m
}

// countRequest counts one answered request.
func (m *metrics) countRequest(domain string, code int) {
	k := requestKey{domain, code}
	c, ok := m.counters.Load(k)
	if !ok {
		c, _ = m.counters.LoadOrStore(k, m.requests.WithLabelValues(domain, strconv.Itoa(code)))
	}
	c.(prometheus.Counter).Inc()
}
