package monitor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/rollout"
	"github.com/mtasts/mtasts/sts"
)

// Defaults of Options fields left zero.
const (
	DefaultInterval = time.Hour
	DefaultLease    = time.Minute
	// MinLease is the shortest lease: the store keeps lease times in
	// whole seconds.
	MinLease           = 5 * time.Second
	DefaultConcurrency = 8
)

// LeaseName is the name of the store lease the watching server holds.
const LeaseName = "monitor"

// Options configure a Monitor.
type Options struct {
	// Store keeps the conditions, the alert history and the lease;
	// required.
	Store *reportstore.Store
	// Check configures the checks of the domains (resolver, roots,
	// dialer). Each round has a Checker of its own, so that the results
	// of MX hosts it shares between domains are of that round.
	Check check.Options
	// Policies returns the policies served now; required.
	Policies func() []policyhost.Policy
	// Thresholds tune the conditions.
	Thresholds Thresholds
	// Readiness returns the thresholds of the readiness verdict of a
	// domain in mode testing (the [rollout] section, as "mtasts promote"
	// judges it); nil means the defaults.
	Readiness func(domain string) rollout.Thresholds
	// Channels are where alerts go.
	Channels []Channel
	// Interval is how often each domain is checked; DefaultInterval if
	// zero.
	Interval time.Duration
	// Lease is how long the watching server's lease lasts unless renewed,
	// which bounds how long a dead watcher is missed; the smaller of
	// Interval and DefaultLease if zero, and at least MinLease.
	Lease time.Duration
	// Holder names this process in the lease; hostname, pid and a random
	// suffix if empty.
	Holder string
	// Concurrency bounds the checks running at once; DefaultConcurrency
	// if zero.
	Concurrency int
	// Registry receives the metrics (docs/metrics.md); nil means none.
	Registry prometheus.Registerer
	// Log receives the log; nil discards it.
	Log *slog.Logger
	// Now is the clock of conditions and alerts; nil means time.Now.
	Now func() time.Time
}

// Monitor watches the served domains and alerts on changes of their
// conditions. Run it, or call Round.
type Monitor struct {
	o        Options
	th       Thresholds
	metrics  *metrics
	channels map[string]Channel
	names    []string // of channels, in order
	leader   atomic.Bool

	deliverMu sync.Mutex
}

// New returns a Monitor for o.
func New(o Options) (*Monitor, error) {
	if o.Store == nil || o.Policies == nil {
		return nil, errors.New("monitor: a store and the served policies are required")
	}
	if _, err := check.New(o.Check); err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Lease <= 0 {
		o.Lease = min(o.Interval, DefaultLease)
	}
	o.Lease = max(o.Lease, MinLease)
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Holder == "" {
		o.Holder = holderName()
	}
	m := &Monitor{o: o, th: o.Thresholds.WithDefaults(), channels: map[string]Channel{}}
	for _, c := range o.Channels {
		if _, dup := m.channels[c.Name()]; dup {
			return nil, fmt.Errorf("monitor: two alert channels named %s", c.Name())
		}
		m.channels[c.Name()] = c
		m.names = append(m.names, c.Name())
	}
	m.metrics = newMetrics(o.Registry)
	return m, nil
}

// holderName names this process: host, pid and a random suffix, so that
// a restarted process with the same pid is another holder.
func holderName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Run watches until ctx ends. While this process holds the store's
// monitor lease it checks every served domain once per interval, the
// checks spread evenly over it, and delivers the alerts; otherwise it
// tries to take the lease every third of the lease time, so that it
// takes over within one lease time of a holder that died.
func (m *Monitor) Run(ctx context.Context) error {
	defer m.release()
	for ctx.Err() == nil {
		if !m.renew(ctx) {
			sleep(ctx, m.o.Lease/3)
			continue
		}
		start := time.Now()
		policies := m.policies()
		checker, err := check.New(m.o.Check)
		if err != nil {
			return fmt.Errorf("monitor: %w", err)
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, m.o.Concurrency)
		for i, p := range policies {
			at := start.Add(time.Duration(i) * m.o.Interval / time.Duration(len(policies)))
			if !m.waitLeading(ctx, at) {
				break
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := m.checkDomain(ctx, checker, p, m.renew); err != nil && ctx.Err() == nil {
					m.o.Log.Error("monitor: checking a domain", "domain", p.Domain, "error", err)
				}
				if m.renew(ctx) {
					_ = m.deliver(ctx) // what fails stays pending, logged
				}
			})
		}
		wg.Wait()
		m.waitLeading(ctx, start.Add(m.o.Interval))
	}
	return nil
}

// waitLeading waits until at, renewing the lease; it reports whether
// this process still leads when at comes.
func (m *Monitor) waitLeading(ctx context.Context, at time.Time) bool {
	for {
		if !m.renew(ctx) {
			return false
		}
		d := time.Until(at)
		if d <= 0 {
			return true
		}
		if !sleep(ctx, min(d, m.o.Lease/3)) {
			return false
		}
	}
}

// renew takes or renews the lease and reports whether this process holds
// it.
func (m *Monitor) renew(ctx context.Context) bool {
	ok, err := m.o.Store.AcquireLease(ctx, LeaseName, m.o.Holder, m.o.Lease)
	if err != nil {
		if ctx.Err() != nil {
			return false // stopping: release gives the lease up
		}
		m.o.Log.Error("monitor: taking the lease", "error", err)
		ok = false
	}
	if m.leader.Swap(ok) != ok {
		m.o.Log.Info("monitor: lease changed", "holder", m.o.Holder, "watching", ok)
	}
	m.metrics.leader.Set(b2f(ok))
	return ok
}

// release gives the lease up, so that another server takes over at once.
func (m *Monitor) release() {
	if !m.leader.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.leader.Store(false)
	m.metrics.leader.Set(0)
	_ = m.o.Store.ReleaseLease(ctx, LeaseName, m.o.Holder)
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// policies returns the served policies sorted by domain.
func (m *Monitor) policies() []policyhost.Policy {
	ps := slices.Clone(m.o.Policies())
	slices.SortFunc(ps, func(a, b policyhost.Policy) int { return cmpString(a.Domain, b.Domain) })
	return ps
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Round checks every served domain now, at most Concurrency at once, and
// delivers the alerts, whether or not this process holds the lease (Run
// takes care of that). The error joins the failures of the store.
func (m *Monitor) Round(ctx context.Context) error {
	checker, err := check.New(m.o.Check)
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, m.o.Concurrency)
	for _, p := range m.policies() {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := m.checkDomain(ctx, checker, p, nil); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := m.deliver(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// checkDomain checks the domain of p, served with p, with checker, and
// records the conditions that start and end, with their alerts
// (delivered later, by deliver). If leads is not nil, nothing is recorded
// unless it reports that this process still holds the lease once the
// check is done: a watcher that lost it during a long check leaves the
// domain to the one that took over.
func (m *Monitor) checkDomain(ctx context.Context, checker *check.Checker, p policyhost.Policy, leads func(context.Context) bool) error {
	began := time.Now()
	obs, err := m.observe(ctx, checker, p)
	m.metrics.checkDuration.Observe(time.Since(began).Seconds())
	if err != nil {
		m.metrics.checks.WithLabelValues("error").Inc()
		return err
	}
	m.metrics.checks.WithLabelValues("ok").Inc()
	now := m.o.Now()
	conds := Judge(obs, m.th, now)
	m.metrics.observe(p.Domain, obs, conds, now)
	if leads != nil && !leads(ctx) {
		return nil
	}
	if err := m.record(ctx, obs, now); err != nil {
		return err
	}
	return m.reconcile(ctx, p.Domain, conds, now)
}

// record keeps the check of obs as the domain's last, with the verdict,
// for "mtasts status" and the dashboard.
func (m *Monitor) record(ctx context.Context, obs Observation, now time.Time) error {
	d := reportstore.MonitorDomain{Domain: obs.Domain, Checked: now, PolicyID: obs.Served.ID, Mode: string(obs.Served.Mode)}
	var err error
	if d.Findings, err = json.Marshal(obs.Check.Findings); err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	if v := obs.Verdict; v != nil {
		d.Verdict = string(v.Status)
		if d.Evidence, err = json.Marshal(v); err != nil {
			return fmt.Errorf("monitor: %w", err)
		}
	}
	if err := m.o.Store.PutMonitorDomain(ctx, &d); err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	return nil
}

// observe checks the domain of p and reads its reports.
func (m *Monitor) observe(ctx context.Context, checker *check.Checker, p policyhost.Policy) (Observation, error) {
	pol, err := sts.ParsePolicy(p.Text)
	if err != nil {
		return Observation{}, fmt.Errorf("monitor: the served policy of %s: %w", p.Domain, err)
	}
	obs := Observation{Domain: p.Domain, Served: rollout.ServedPolicy{ID: p.ID, Mode: pol.Mode, MaxAge: pol.MaxAge, MX: pol.MX, Text: string(p.Text)}}
	res, err := checker.Check(ctx, p.Domain)
	if err != nil {
		return obs, fmt.Errorf("monitor: %w", err)
	}
	obs.Check = res
	if obs.Reports, err = m.reportStats(ctx, p.Domain); err != nil {
		return obs, err
	}
	if obs.Served.Mode == sts.ModeTesting {
		src := rollout.Sources{Store: m.o.Store, Checker: checker, Now: m.o.Now}
		var th rollout.Thresholds
		if m.o.Readiness != nil {
			th = m.o.Readiness(p.Domain)
		}
		ev, err := rollout.GatherChecked(ctx, src, p.Domain, obs.Served, th, res, nil)
		if err != nil {
			return obs, fmt.Errorf("monitor: %w", err)
		}
		v := rollout.Evaluate(ev, th)
		obs.Verdict = &v
	}
	return obs, nil
}

// reportStats sums the reports of domain in the failure window and finds
// the result types new in it.
func (m *Monitor) reportStats(ctx context.Context, domain string) (*ReportStats, error) {
	now := m.o.Now()
	// Report days are whole UTC days; Until's day is excluded.
	until := now.Add(24 * time.Hour)
	since := now.Add(-m.th.FailureWindow)
	recent := reportstore.Filter{Domain: domain, Since: since, Until: until}
	baseline := reportstore.Filter{Domain: domain, Since: since.Add(-m.th.Baseline), Until: since}
	orgs, err := m.o.Store.OrganizationSessions(ctx, recent)
	if err != nil {
		return nil, fmt.Errorf("monitor: reports of %s: %w", domain, err)
	}
	st := &ReportStats{}
	for _, o := range orgs {
		st.Sessions += o.Sessions()
		st.Failed += o.Failed
	}
	inWindow, err := m.o.Store.FailureGroups(ctx, recent)
	if err != nil {
		return nil, fmt.Errorf("monitor: reports of %s: %w", domain, err)
	}
	before, err := m.o.Store.FailureGroups(ctx, baseline)
	if err != nil {
		return nil, fmt.Errorf("monitor: reports of %s: %w", domain, err)
	}
	known := map[string]bool{}
	for _, g := range before {
		known[g.ResultType] = true
	}
	for _, g := range inWindow {
		if !known[g.ResultType] && !slices.Contains(st.New, g.ResultType) {
			st.New = append(st.New, g.ResultType)
		}
	}
	slices.Sort(st.New)
	return st, nil
}
