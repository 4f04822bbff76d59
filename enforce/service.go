package enforce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/internal/procenv"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
)

// Options are what a Service takes from the program that runs it rather
// than from its Config. The zero value is usable.
type Options struct {
	// Log receives the service's log, in the configured format and
	// level; nil means standard error.
	Log io.Writer
	// Now is the clock of the cache and the resolver; nil means time.Now.
	Now func() time.Time
	// Dial, if set, replaces the dialer of policy fetches.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Getenv reads SSL_CERT_FILE, the roots used when ca_file is not set;
	// nil means os.Getenv.
	Getenv func(string) string
	// UserAgent is sent with policy fetches.
	UserAgent string
	// Load returns the configuration to apply on SIGHUP: the file read
	// again, with whatever the program sets on top. Nil means that SIGHUP
	// reloads nothing.
	Load func() (*Config, error)
	// Registry receives the service's metrics (docs/metrics.md) and is
	// served on the metrics listener; one registry serves one Service.
	// Nil means a new one, with the Go runtime and process collectors.
	Registry *prometheus.Registry
	// Sleep waits between the rounds of the TLS reporting schedule; nil
	// means a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// withDefaults returns o with its nil fields set.
func (o Options) withDefaults() Options {
	procenv.Defaults(&o.Log, &o.Now, &o.Getenv)
	return o
}

// Service is the MTA policy service: socketmap listeners answering
// Postfix's TLS policy lookups with the decisions of a resolver over the
// policy cache, metrics, and reloads of the configuration. Make it with
// New, open its listeners with Listen, run it with Serve and Close it.
type Service struct {
	opts    Options
	log     *slog.Logger
	level   *slog.LevelVar
	metrics *metrics
	cache   cache.Cache
	server  *socketmap.Server
	exim    *eximServer
	// observer is told what the resolver does: the metrics, and the
	// TLS reporting schedule if on.
	observer  resolver.Observer
	reporting *reporting

	listeners       []net.Listener
	eximListeners   []net.Listener
	metricsListener net.Listener

	config   atomic.Pointer[Config]
	resolver atomic.Pointer[resolver.Resolver]

	mu      sync.Mutex         // serializes reloads and the shutdown
	refresh context.CancelFunc // stops the current resolver's refresh loop
	stopped bool               // Serve has returned
	wg      sync.WaitGroup     // refresh loops
}

// Run runs the service of cfg until ctx ends, as "mtasts daemon" does:
// New, Listen, Serve and Close.
func Run(ctx context.Context, cfg *Config, o Options) error {
	s, err := New(ctx, cfg, o)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Listen(); err != nil {
		return err
	}
	return s.Serve(ctx)
}

// New validates cfg, opens its cache and makes the resolver and the
// socketmap server. It listens nowhere yet.
func New(ctx context.Context, cfg *Config, o Options) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{opts: o.withDefaults(), level: new(slog.LevelVar)}
	if s.opts.Registry == nil {
		s.opts.Registry = procenv.NewRegistry()
	}
	s.metrics = newMetrics(s.opts.Registry)
	s.level.Set(cfg.logLevel)
	s.log = newLogger(s.opts.Log, cfg.LogFormat, s.level)
	s.config.Store(cfg)
	if err := s.newReporting(ctx, cfg); err != nil {
		return nil, fmt.Errorf("cannot start: %w", err)
	}
	r, c, err := openResolver(ctx, cfg, &s.opts, s.log, s.observer)
	if err != nil {
		s.reporting.close()
		return nil, fmt.Errorf("cannot start: %w", err)
	}
	s.cache = c
	if s.reporting != nil {
		s.reporting.cache = c
	}
	s.resolver.Store(r)
	h := &Handler{Resolver: serviceResolver{s}, Options: s.replyOptions, Logger: s.log, Answered: s.metrics.answered}
	mux := &socketmap.Mux{}
	for _, name := range cfg.Maps {
		mux.Handle(name, h)
	}
	// Exim matches MX host names itself (EximAnswer's uncovered list) and
	// reads no Postfix attributes: its answers need no MX lookup.
	eximHandler := &Handler{Resolver: serviceResolver{s}, Options: s.eximOptions, Logger: s.log, Answered: s.metrics.answered}
	s.exim = newEximServer(eximHandler, s.log, cfg.MaxConnections)
	s.server = &socketmap.Server{Handler: mux, Logger: s.log, Observer: s.metrics.observe,
		MaxConnections: cfg.MaxConnections, PressureConnections: cfg.PressureConnections, PressureIdleTimeout: cfg.PressureIdleTimeout}
	s.metrics.watch(s.server.Stats, func() resolver.LoadStats { return s.resolver.Load().Load() },
		func() []*cache.Override { return s.resolver.Load().Overrides() })
	return s, nil
}

// newLogger returns a slog logger writing text or JSON to w.
func newLogger(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// serviceResolver is the Decider and MXResolver of a Service's Handler:
// the current resolver, which a reload may replace, giving up after
// query_timeout: the resolver then answers Tempfail (or an MX error) and
// Postfix gets TEMP before its own timeout.
type serviceResolver struct{ s *Service }

// Decide implements Decider.
func (r serviceResolver) Decide(ctx context.Context, domain string) (resolver.Decision, error) {
	ctx, cancel := withLazyDeadline(ctx, time.Now().Add(r.s.config.Load().QueryTimeout))
	defer cancel()
	return r.s.resolver.Load().Decide(ctx, domain)
}

// MX implements MXResolver.
func (r serviceResolver) MX(ctx context.Context, domain string) (*resolver.MXHosts, error) {
	ctx, cancel := withLazyDeadline(ctx, time.Now().Add(r.s.config.Load().QueryTimeout))
	defer cancel()
	return r.s.resolver.Load().MX(ctx, domain)
}

// replyOptions returns the Postfix reply options for a policy domain.
func (s *Service) replyOptions(domain string) ReplyOptions {
	return s.config.Load().replyOptions(domain)
}

// eximOptions returns the reply options behind the Exim answers for a
// policy domain: the zone's, with the MX host names left to Exim.
func (s *Service) eximOptions(domain string) ReplyOptions {
	z, _ := s.config.Load().zone(domain)
	return ReplyOptions{StrictTesting: *z.StrictTesting, MTAMatchesMX: true}
}

// replyOptions returns the Postfix reply options of c for a policy domain.
func (c *Config) replyOptions(domain string) ReplyOptions {
	z, _ := c.zone(domain)
	o := c.postfixReply
	o.StrictTesting = *z.StrictTesting
	return o
}

// Listen opens the socketmap listeners and, if configured, the metrics
// listener. On failure it closes those it opened.
func (s *Service) Listen() error {
	cfg := s.config.Load()
	for _, a := range cfg.Listen {
		addr, _ := parseListenAddr(a) // checked by Validate
		l, err := addr.listen(cfg.socketMode)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("cannot listen on %s: %w", a, err)
		}
		s.listeners = append(s.listeners, l)
	}
	if err := s.listenExim(cfg); err != nil {
		s.closeListeners()
		return err
	}
	if cfg.Metrics != "" {
		l, err := net.Listen("tcp", cfg.Metrics)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("cannot listen for metrics on %s: %w", cfg.Metrics, err)
		}
		s.metricsListener = l
	}
	return nil
}

// closeListeners closes the listeners opened by Listen.
func (s *Service) closeListeners() {
	for _, l := range append(s.listeners, s.eximListeners...) {
		l.Close()
	}
	if s.metricsListener != nil {
		s.metricsListener.Close()
	}
	s.listeners, s.eximListeners, s.metricsListener = nil, nil, nil
}

// Addrs returns the addresses of the socketmap listeners, in the order of
// the configuration, once Listen has opened them.
func (s *Service) Addrs() []net.Addr {
	addrs := make([]net.Addr, len(s.listeners))
	for i, l := range s.listeners {
		addrs[i] = l.Addr()
	}
	return addrs
}

// MetricsAddr returns the address of the metrics listener, or nil.
func (s *Service) MetricsAddr() net.Addr {
	if s.metricsListener == nil {
		return nil
	}
	return s.metricsListener.Addr()
}

// Serve answers lookups on the listeners opened by Listen until ctx ends
// or a listener fails, and reloads the configuration on SIGHUP (see
// Options.Load). Then it answers the lookups in flight, waiting at most
// shutdown_timeout, and stops. It returns nil when ctx ended.
func (s *Service) Serve(ctx context.Context) error {
	var metricsSrv *http.Server
	if s.metricsListener != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{}))
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go metricsSrv.Serve(s.metricsListener)
		s.log.Info("serving metrics", "addr", "http://"+s.metricsListener.Addr().String()+"/metrics")
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	cfg := s.config.Load()
	s.mu.Lock()
	s.startRefresh(cfg)
	s.mu.Unlock()
	if s.reporting != nil {
		s.reporting.start(&cfg.TLSRPTSend)
	}
	failed := make(chan error, len(s.listeners)+len(s.eximListeners))
	s.serveExim(failed)
	for _, l := range s.listeners {
		go func() {
			if err := s.server.Serve(l); err != nil && !errors.Is(err, socketmap.ErrServerClosed) {
				failed <- fmt.Errorf("serving on %s: %w", l.Addr(), err)
			}
		}()
		s.log.Info("listening", "addr", listenerName(l), "maps", cfg.Maps)
	}

	var err error
	for running := true; running; {
		select {
		case <-ctx.Done():
			s.log.Info("shutting down", "timeout", s.config.Load().ShutdownTimeout)
			running = false
		case err = <-failed:
			s.log.Error("listener failed", "err", err)
			running = false
		case <-hup:
			s.reloadFile(ctx)
		}
	}
	s.shutdown(metricsSrv)
	return err
}

// listenerName is how a listener is named in the log.
func listenerName(l net.Listener) string {
	if l.Addr().Network() == "unix" {
		return "unix:" + l.Addr().String()
	}
	return l.Addr().String()
}

// startRefresh runs the current resolver's proactive refresh (RFC 8461
// §10.2) until the next reload or shutdown, if the configuration wants it.
// The caller holds s.mu.
func (s *Service) startRefresh(cfg *Config) {
	if s.refresh != nil {
		s.refresh()
		s.refresh = nil
	}
	if !cfg.Refresh {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.refresh = cancel
	r := s.resolver.Load()
	s.wg.Go(func() { r.Run(ctx) })
}

// shutdown answers the lookups in flight, waiting at most the shutdown
// timeout, and stops everything else.
func (s *Service) shutdown(metricsSrv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), s.config.Load().ShutdownTimeout)
	defer cancel()
	if err := s.server.Shutdown(ctx); err != nil {
		s.log.Warn("lookups still in flight at the shutdown timeout; closing", "err", err)
		s.server.Close()
	}
	if err := s.exim.Shutdown(ctx); err != nil {
		s.log.Warn("Exim lookups still in flight at the shutdown timeout; closing", "err", err)
	}
	s.mu.Lock()
	if s.refresh != nil {
		s.refresh()
		s.refresh = nil
	}
	s.stopped = true
	s.mu.Unlock()
	s.wg.Wait()
	if metricsSrv != nil {
		metricsSrv.Shutdown(ctx)
	}
	s.log.Info("stopped")
}

// Close closes the cache and the report store, and the listeners if
// Serve did not run.
func (s *Service) Close() error {
	s.closeListeners()
	return errors.Join(s.reporting.close(), s.cache.Close())
}

// reloadFile applies the configuration that Options.Load returns, as
// SIGHUP asks.
func (s *Service) reloadFile(ctx context.Context) {
	if s.opts.Load == nil {
		s.log.Warn("SIGHUP: no configuration file to reload")
		return
	}
	cfg, err := s.opts.Load()
	if err == nil {
		err = s.Reload(ctx, cfg)
	}
	if err != nil {
		s.log.Error("reload failed; keeping the running configuration", "err", err)
	}
}

// Reload applies what can change while running: zones, reply options,
// DANE, timeouts, refresh and the log level. Settings that need a restart
// are kept as they run, with a warning. A configuration that is not valid
// leaves everything as it was and is returned as the error.
func (s *Service) Reload(ctx context.Context, cfg *Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("the service has stopped")
	}
	cfg.keepRestartOnly(s.config.Load(), func(key string, running, next any) {
		s.log.Warn("reload cannot change this setting; restart to apply it", "setting", key, "running", running, "file", next)
	})
	r, err := newResolver(cfg, &s.opts, s.cache, s.log, s.observer)
	if err != nil {
		return err
	}
	s.resolver.Store(r)
	s.config.Store(cfg)
	s.level.Set(cfg.logLevel)
	s.startRefresh(cfg)
	s.log.InfoContext(ctx, "configuration reloaded", "file", cfg.Path, "zones", len(cfg.Zones))
	return nil
}

// Query answers one lookup key as a Service with cfg would, with
// everything behind the answer: what "mtasts query" shows. It opens the
// cache of cfg for the call ("" means a memory cache of this call only)
// and logs nothing.
func Query(ctx context.Context, cfg *Config, o Options, key string) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	o = o.withDefaults()
	r, c, err := openResolver(ctx, cfg, &o, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	h := &Handler{Resolver: r, Options: cfg.replyOptions}
	return h.Resolve(ctx, key), nil
}
