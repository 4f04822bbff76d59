package serve

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtasts/mtasts/reportstore"
)

// sessionsCollector exports the TLS sessions the stored reports count, by
// policy domain and result: "successful", or the RFC 8460 §4.3 result
// type of failed sessions. It reads the store at each scrape and only for
// the domains this server hosts (domains), so that reports POSTed by
// anyone for arbitrary domains cannot grow the number of series.
type sessionsCollector struct {
	store   *reportstore.Store
	domains func() []string
	since   time.Duration
	now     func() time.Time
	logger  *slog.Logger
	desc    *prometheus.Desc
}

func newSessionsCollector(store *reportstore.Store, domains func() []string, now func() time.Time, logger *slog.Logger) *sessionsCollector {
	return &sessionsCollector{
		store: store, domains: domains, since: 24 * time.Hour, now: now, logger: logger,
		desc: prometheus.NewDesc("mtasts_tlsrpt_sessions",
			"TLS sessions counted by the stored TLS reports of the last 24 hours (by report day), by served policy domain and result: successful, or the RFC 8460 result type of failed sessions.",
			[]string{"domain", "result"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *sessionsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *sessionsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	since := c.now().Add(-c.since).UTC().Truncate(24 * time.Hour)
	for _, d := range c.domains() {
		f := reportstore.Filter{Domain: d, Since: since}
		overview, err := c.store.Domains(ctx, f)
		if err != nil {
			c.logger.Warn("metrics: reading the report store", "domain", d, "error", err)
			continue
		}
		var ok int64
		for _, o := range overview {
			ok += o.Successful
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(ok), d, "successful")
		failures, err := c.store.Failures(ctx, f, reportstore.ByResultType, 0)
		if err != nil {
			c.logger.Warn("metrics: reading the report store", "domain", d, "error", err)
			continue
		}
		for _, fc := range failures {
			result := fc.Key
			if result == "" {
				result = "unknown"
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(fc.Failed), d, result)
		}
	}
}
