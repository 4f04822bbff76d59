package enforce

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
	"github.com/mtasts/mtasts/sts"
)

// metrics are the Prometheus metrics of a Service, listed with their
// meaning in docs/metrics.md. It implements resolver.Observer.
type metrics struct {
	queries        *prometheus.CounterVec   // by answer
	latency        *prometheus.HistogramVec // by reply status
	decisions      *prometheus.CounterVec   // by decision and source
	cacheHits      prometheus.Counter
	cacheMisses    prometheus.Counter
	fetches        *prometheus.CounterVec // by outcome
	fetchTime      prometheus.Histogram
	refreshes      *prometheus.CounterVec // by outcome
	refreshFailure *prometheus.CounterVec // by mode of the cached policy
	cacheErrors    *prometheus.CounterVec // by operation
	reg            prometheus.Registerer

	// Children looked up once, for the per-lookup metrics.
	answerCounters  *children[Answer, prometheus.Counter]
	statusLatency   *children[socketmap.Status, prometheus.Observer]
	decisionCounter *children[decisionLabels, prometheus.Counter]
}

// decisionLabels are the labels of mtasts_decisions_total.
type decisionLabels struct {
	kind   resolver.Kind
	source resolver.Source
}

// children are the children of a metric vector for the label values of
// each lookup, made on first use, so that a series appears once it counts
// something. Those of the values known in advance are found in a map that
// is never written, without a lock or an interface conversion; others in
// a sync.Map.
type children[K comparable, M any] struct {
	known    map[K]*atomic.Pointer[M]
	other    sync.Map // K → M
	newChild func(K) M
}

// newChildren returns the children made by newChild, with a slot for each
// of the known label values.
func newChildren[K comparable, M any](known []K, newChild func(K) M) *children[K, M] {
	c := &children[K, M]{known: make(map[K]*atomic.Pointer[M], len(known)), newChild: newChild}
	for _, k := range known {
		c.known[k] = new(atomic.Pointer[M])
	}
	return c
}

// get returns the child for k, making it on first use.
func (c *children[K, M]) get(k K) M {
	slot, ok := c.known[k]
	if !ok {
		if v, ok := c.other.Load(k); ok {
			return v.(M)
		}
		v, _ := c.other.LoadOrStore(k, c.newChild(k))
		return v.(M)
	}
	if m := slot.Load(); m != nil {
		return *m
	}
	m := c.newChild(k) // the vector gives racing calls the same child
	slot.Store(&m)
	return m
}

// newMetrics creates the metrics and registers them on reg.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		reg: reg,
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_queries_total",
			Help: "Postfix TLS policy lookups answered, by answer: enforce, testing, none, no-policy, tempfail, dane, unusable (enforced policy without usable mx, answered TEMP), no-covered-mx (enforced policy covering no published MX host, TEMP), mx-unknown (MX lookup failed, TEMP), no-domain (key without policy domain).",
		}, []string{"answer"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mtasts_socketmap_reply_seconds",
			Help:    "Time from reading a socketmap request to having its reply ready, by reply status (OK, NOTFOUND, TEMP, TIMEOUT, PERM).",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"status"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_decisions_total",
			Help: "Resolver decisions, by decision and by source (cache, fetch, stale-cache, negative-cache, dns, next-hop, overload: refused beyond max_lookups_in_flight, override: an operator's override).",
		}, []string{"decision", "source"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mtasts_cache_hits_total",
			Help: "Decisions answered from the cache without network work (a current policy or a remembered negative answer).",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mtasts_cache_misses_total",
			Help: "Decisions that needed DNS or HTTPS work.",
		}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_policy_fetches_total",
			Help: "Policy fetches (RFC 8461 §3.3) by outcome: ok, a failed stage (dns, connect, tls, status, redirect, content-type, size, timeout), syntax (invalid policy) or error.",
		}, []string{"outcome"}),
		fetchTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mtasts_policy_fetch_seconds",
			Help:    "Duration of policy fetches.",
			Buckets: prometheus.ExponentialBuckets(.005, 2.5, 10),
		}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_refreshes_total",
			Help: "Proactive refreshes of cached policies (RFC 8461 §10.2) by outcome: ok, failed, unused (not refetched: domain not looked up within refresh_used_within) or dropped (removed: unused for drop_unused_after).",
		}, []string{"outcome"}),
		refreshFailure: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_refresh_failures_total",
			Help: "Failed refreshes of cached policies whose mode is not none: the alert of RFC 8461 §10.2, by cached mode.",
		}, []string{"mode"}),
		cacheErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_cache_errors_total",
			Help: "Failures of the policy cache backend, by operation.",
		}, []string{"op"}),
	}
	kinds := []resolver.Kind{resolver.Enforce, resolver.Testing, resolver.None,
		resolver.NoPolicy, resolver.Tempfail, resolver.DANE}
	answers := []Answer{AnswerUnusable, AnswerNoDomain}
	var decisions []decisionLabels
	for _, k := range kinds {
		answers = append(answers, Answer(k))
		for _, s := range []resolver.Source{resolver.SourceCache, resolver.SourceFetch,
			resolver.SourceStale, resolver.SourceNegative, resolver.SourceDNS, resolver.SourceNextHop, resolver.SourceOverload,
			resolver.SourceOverride} {
			decisions = append(decisions, decisionLabels{k, s})
		}
	}
	m.answerCounters = newChildren(answers, func(a Answer) prometheus.Counter {
		return m.queries.WithLabelValues(string(a))
	})
	m.statusLatency = newChildren([]socketmap.Status{socketmap.StatusOK, socketmap.StatusNotFound,
		socketmap.StatusTemp, socketmap.StatusTimeout, socketmap.StatusPerm}, func(s socketmap.Status) prometheus.Observer {
		return m.latency.WithLabelValues(string(s))
	})
	m.decisionCounter = newChildren(decisions, func(d decisionLabels) prometheus.Counter {
		return m.decisions.WithLabelValues(string(d.kind), d.source.String())
	})
	reg.MustRegister(m.queries, m.latency, m.decisions, m.cacheHits, m.cacheMisses, m.fetches, m.fetchTime,
		m.refreshes, m.refreshFailure, m.cacheErrors)
	// Rare events that alerts watch exist from the start, at 0.
	for _, outcome := range []string{"ok", "failed", "unused", "dropped"} {
		m.refreshes.WithLabelValues(outcome)
	}
	for _, mode := range []sts.Mode{sts.ModeEnforce, sts.ModeTesting} {
		m.refreshFailure.WithLabelValues(string(mode))
	}
	return m
}

// answered counts a lookup answer (Handler.Answered).
func (m *metrics) answered(a Answer) {
	m.answerCounters.get(a).Inc()
}

// observe records a socketmap reply (socketmap.Observer).
func (m *metrics) observe(_ string, status socketmap.Status, elapsed time.Duration) {
	m.statusLatency.get(status).Observe(elapsed.Seconds())
}

// Decided implements resolver.Observer.
func (m *metrics) Decided(d resolver.Decision, _ time.Duration) {
	m.decisionCounter.get(decisionLabels{d.Kind, d.Source}).Inc()
	switch d.Source {
	case resolver.SourceCache, resolver.SourceNegative:
		m.cacheHits.Inc()
	case resolver.SourceNextHop:
	default:
		m.cacheMisses.Inc()
	}
}

// Fetched implements resolver.Observer.
func (m *metrics) Fetched(_ string, err error, elapsed time.Duration) {
	m.fetches.WithLabelValues(fetchOutcome(err)).Inc()
	m.fetchTime.Observe(elapsed.Seconds())
}

// fetchOutcome is the label of a fetch result.
func fetchOutcome(err error) string {
	var fe *sts.FetchError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &fe):
		return fe.Stage
	case errors.Is(err, sts.ErrPolicySyntax):
		return "syntax"
	default:
		return "error"
	}
}

// Refreshed implements resolver.Observer.
func (m *metrics) Refreshed(_ string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "failed"
	}
	m.refreshes.WithLabelValues(outcome).Inc()
}

// RefreshFailed implements resolver.Observer.
func (m *metrics) RefreshFailed(_ string, cached *sts.Policy, _ error) {
	mode := ""
	if cached != nil {
		mode = string(cached.Mode)
	}
	m.refreshFailure.WithLabelValues(mode).Inc()
}

// Unused implements resolver.Observer.
func (m *metrics) Unused(_ string, dropped bool) {
	outcome := "unused"
	if dropped {
		outcome = "dropped"
	}
	m.refreshes.WithLabelValues(outcome).Inc()
}

// CacheError implements resolver.Observer.
func (m *metrics) CacheError(op string, _ error) { m.cacheErrors.WithLabelValues(op).Inc() }

// watch exports the limits of the service as they stand at each scrape:
// the socketmap server's connections (stats) and the policy lookups in
// flight (load).
func (m *metrics) watch(stats func() socketmap.Stats, load func() resolver.LoadStats, overrides func() []*cache.Override) {
	counter := func(name, help string, v func(socketmap.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v(stats())) })
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mtasts_socketmap_connections_open",
			Help: "Socketmap connections open now.",
		}, func() float64 { return float64(stats().Open) }),
		counter("mtasts_socketmap_connections_accepted_total", "Socketmap connections accepted and served.",
			func(s socketmap.Stats) uint64 { return s.Accepted }),
		counter("mtasts_socketmap_connections_refused_total", "Socketmap connections closed at once, unserved: max_connections were open and none was idle.",
			func(s socketmap.Stats) uint64 { return s.Refused }),
		counter("mtasts_socketmap_connections_evicted_total", "Idle socketmap connections closed to make room: at max_connections, or above pressure_connections once idle for pressure_idle_timeout.",
			func(s socketmap.Stats) uint64 { return s.Evicted }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mtasts_lookups_in_flight",
			Help: "Policy lookups (DNS, HTTPS) running now; at most max_lookups_in_flight.",
		}, func() float64 { return float64(load().InFlight) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mtasts_overrides",
			Help: "Operators' overrides in force (mtasts override add), as last read from the cache.",
		}, func() float64 { return float64(len(overrides())) }),
	)
}
