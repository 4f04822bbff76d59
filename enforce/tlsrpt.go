package enforce

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/rootca"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
	"github.com/mtasts/mtasts/tlsrptsend"
)

// reporting is the sending side of TLS reporting (RFC 8460) run by the
// daemon when [daemon.tlsrpt_send] enables it: the outcomes of its own
// policy decisions (failed fetches, invalid policies and policy hosts,
// RFC 8460 §4.3.2) and, if configured, of Postfix's log, kept in the
// report store; and the daily schedule that builds and sends the
// reports.
type reporting struct {
	store     *reportstore.Store
	recorder  *tlsrptsend.StoreRecorder
	scheduler *tlsrptsend.Scheduler
	collector *tlsrptsend.LogCollector // nil without postfix_log
	log       *slog.Logger
	now       func() time.Time
	sendingIP netip.Addr         // "sending-mta-ip" of the outcomes of failed fetches
	cache     cache.Cache        // the daemon's policies, once New has opened it
	cancel    context.CancelFunc // ends what start started
	wg        sync.WaitGroup
}

// newReporting makes the TLS reporting of cfg, if it enables it, and
// the observer of the resolver.
func (s *Service) newReporting(ctx context.Context, cfg *Config) error {
	s.observer = s.metrics
	if !cfg.TLSRPTSend.Enabled {
		return nil
	}
	r, err := openReporting(ctx, cfg, &s.opts, s.log, tlsrptsend.NewMetrics(s.opts.Registry))
	if err != nil {
		return err
	}
	s.reporting, s.observer = r, fetchReporter{s.metrics, r}
	return nil
}

// openReporting opens the report store of cfg and makes the schedule.
func openReporting(ctx context.Context, cfg *Config, o *Options, log *slog.Logger, m *tlsrptsend.Metrics) (*reporting, error) {
	c := &cfg.TLSRPTSend
	store, err := reportstore.Open(ctx, c.Store, reportstore.Options{Now: o.Now})
	if err != nil {
		return nil, fmt.Errorf("TLS report store: %w", err)
	}
	dns, err := dnsx.NewFromAddr(cfg.Resolver)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("DNS resolver: %w", err)
	}
	roots, err := rootca.Load(cfg.CAFile, o.Getenv)
	if err != nil {
		store.Close()
		return nil, err
	}
	dial := o.Dial
	if dial == nil && cfg.Resolver != "" {
		dial = dns.Dialer(nil)
	}
	log = log.With("part", "tlsrpt")
	n := tlsrptsend.Network{DNS: dns, RootCAs: roots, Dial: dial, Timeout: cfg.Timeout, Now: o.Now, UserAgent: o.UserAgent}
	sender, err := c.Sender(n, log, m)
	if err != nil {
		store.Close()
		return nil, err
	}
	sender.Store, sender.Sleep = store, o.Sleep
	r := &reporting{store: store, recorder: tlsrptsend.NewStoreRecorder(store), log: log, now: o.Now, sendingIP: c.SendingAddr()}
	r.recorder.Metrics = m
	r.scheduler = &tlsrptsend.Scheduler{Sender: sender, Recorder: r.recorder, Interval: c.FlushInterval}
	return r, nil
}

// start follows Postfix's log, if configured, with the policies of the
// daemon's cache, and runs the schedule, until close.
func (r *reporting) start(cfg *tlsrptsend.Config) {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	if cfg.PostfixLog != "" {
		parser := tlsrptsend.NewPostfixParser(cachedPolicies{r.cache}, cfg.SendingAddr(), time.Local, r.now)
		r.collector = &tlsrptsend.LogCollector{Parser: parser, Path: cfg.PostfixLog, Recorder: r.recorder, Log: r.log}
		r.wg.Go(func() {
			if err := r.collector.Run(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("following the Postfix log stopped", "path", cfg.PostfixLog, "err", err)
			}
		})
	}
	if cfg.LibTLSRPTSocket != "" {
		src := &tlsrptsend.DatagramSocket{Path: cfg.LibTLSRPTSocket, Now: r.now, Log: r.log}
		r.wg.Go(func() {
			if err := src.Run(ctx, r.recorder); err != nil && ctx.Err() == nil {
				r.log.Error("receiving libtlsrpt datagrams stopped", "path", cfg.LibTLSRPTSocket, "err", err)
			}
		})
	}
	r.wg.Go(func() { r.scheduler.Run(ctx) })
	r.log.Info("TLS reporting schedule started", "store", cfg.Store, "postfix_log", cfg.PostfixLog, "libtlsrpt_socket", cfg.LibTLSRPTSocket)
}

// close stops what start started, stores the outcomes not yet stored
// and closes the store. A nil *reporting does nothing.
func (r *reporting) close() error {
	if r == nil {
		return nil
	}
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := r.recorder.Close(ctx)
	if cerr := r.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// Fetched records a policy fetch that failed because the policy host or
// its policy is broken as an outcome of the policy domain:
// sts-policy-fetch-error, sts-policy-invalid or sts-webpki-invalid (RFC
// 8460 §4.3.2), one per fetch. No record and temporary DNS failures are
// not reported (sts.ResultType).
func (r *reporting) Fetched(domain string, err error, _ time.Duration) {
	rt := sts.ResultType(err)
	if rt == "" {
		return
	}
	// A policy still cached (a refresh failed) is the one reported on;
	// else none could be had, and the report has no policy-string.
	policy, ok := cachedPolicies{r.cache}.PolicyAt(domain, r.now())
	if !ok {
		policy = tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: domain}
	}
	r.recorder.Record(tlsrptsend.Outcome{
		Time:           r.now(),
		SendingIP:      r.sendingIP,
		Policy:         policy,
		Result:         rt,
		AdditionalInfo: err.Error(),
	})
}

// cachedPolicies is the PolicyLookup of the daemon: the policy in its
// cache, which is what it answered Postfix.
type cachedPolicies struct{ c cache.Cache }

// PolicyAt returns the cached policy of domain, if one applies (mode
// enforce or testing).
func (p cachedPolicies) PolicyAt(domain string, _ time.Time) (tlsrpt.Policy, bool) {
	if p.c == nil {
		return tlsrpt.Policy{}, false
	}
	e, err := p.c.Get(context.Background(), domain)
	if err != nil || e == nil || e.Policy == nil || e.Policy.Mode == sts.ModeNone {
		return tlsrpt.Policy{}, false
	}
	return tlsrptsend.STSPolicy(domain, e.Policy), true
}

// fetchReporter is the resolver's observer when TLS reports are on: the
// metrics, with each failed fetch also recorded by the reporting.
type fetchReporter struct {
	resolver.Observer // the metrics
	r                 *reporting
}

// Fetched implements resolver.Observer.
func (f fetchReporter) Fetched(domain string, err error, elapsed time.Duration) {
	f.Observer.Fetched(domain, err, elapsed)
	f.r.Fetched(domain, err, elapsed)
}
