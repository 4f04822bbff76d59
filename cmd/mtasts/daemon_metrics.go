package main

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mtasts/mtasts/internal/postfix"
	mtastsresolver "github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
	"github.com/mtasts/mtasts/sts"
)

// daemonMetrics are the daemon's Prometheus metrics, in a registry of
// their own. It implements resolver.Observer.
type daemonMetrics struct {
	reg            *prometheus.Registry
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

	// Children looked up once, for the per-lookup metrics.
	answerCounters  sync.Map // postfix.Answer → prometheus.Counter
	statusLatency   sync.Map // socketmap.Status → prometheus.Observer
	decisionCounter sync.Map // decisionLabels → prometheus.Counter
}

// decisionLabels are the labels of mtasts_decisions_total.
type decisionLabels struct {
	kind   mtastsresolver.Kind
	source mtastsresolver.Source
}

// child returns the metric cached in m under key, making it with make on
// first use.
func child[K comparable, M any](m *sync.Map, key K, make func() M) M {
	if v, ok := m.Load(key); ok {
		return v.(M)
	}
	v, _ := m.LoadOrStore(key, make())
	return v.(M)
}

// newDaemonMetrics creates the metrics, with the Go runtime and process
// collectors, in a new registry.
func newDaemonMetrics() *daemonMetrics {
	m := &daemonMetrics{
		reg: prometheus.NewRegistry(),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_queries_total",
			Help: "Postfix TLS policy lookups answered, by answer: enforce, testing, none, no-policy, tempfail, dane, unusable (enforced policy without usable mx, answered TEMP), no-domain (key without policy domain).",
		}, []string{"answer"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mtasts_socketmap_reply_seconds",
			Help:    "Time from reading a socketmap request to having its reply ready, by reply status (OK, NOTFOUND, TEMP, TIMEOUT, PERM).",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"status"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mtasts_decisions_total",
			Help: "Resolver decisions, by decision and by source (cache, fetch, stale-cache, negative-cache, dns, next-hop).",
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
			Help: "Proactive refreshes of cached policies (RFC 8461 §10.2) by outcome: ok or failed.",
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
	m.reg.MustRegister(m.queries, m.latency, m.decisions, m.cacheHits, m.cacheMisses, m.fetches, m.fetchTime,
		m.refreshes, m.refreshFailure, m.cacheErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// answered counts a lookup answer (postfix.Handler.Answered).
func (m *daemonMetrics) answered(a postfix.Answer) {
	child(&m.answerCounters, a, func() prometheus.Counter { return m.queries.WithLabelValues(string(a)) }).Inc()
}

// observe records a socketmap reply (socketmap.Observer).
func (m *daemonMetrics) observe(_ string, status socketmap.Status, elapsed time.Duration) {
	child(&m.statusLatency, status, func() prometheus.Observer { return m.latency.WithLabelValues(string(status)) }).Observe(elapsed.Seconds())
}

// Decided implements resolver.Observer.
func (m *daemonMetrics) Decided(d mtastsresolver.Decision, _ time.Duration) {
	child(&m.decisionCounter, decisionLabels{d.Kind, d.Source}, func() prometheus.Counter {
		return m.decisions.WithLabelValues(string(d.Kind), string(d.Source))
	}).Inc()
	switch d.Source {
	case mtastsresolver.SourceCache, mtastsresolver.SourceNegative:
		m.cacheHits.Inc()
	case mtastsresolver.SourceNextHop:
	default:
		m.cacheMisses.Inc()
	}
}

// Fetched implements resolver.Observer.
func (m *daemonMetrics) Fetched(_ string, err error, elapsed time.Duration) {
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
func (m *daemonMetrics) Refreshed(_ string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "failed"
	}
	m.refreshes.WithLabelValues(outcome).Inc()
}

// RefreshFailed implements resolver.Observer.
func (m *daemonMetrics) RefreshFailed(_ string, cached *sts.Policy, _ error) {
	mode := ""
	if cached != nil {
		mode = string(cached.Mode)
	}
	m.refreshFailure.WithLabelValues(mode).Inc()
}

// CacheError implements resolver.Observer.
func (m *daemonMetrics) CacheError(op string, _ error) { m.cacheErrors.WithLabelValues(op).Inc() }
