package main

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

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/internal/postfix"
	mtastsresolver "github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
)

// daemonFlags are the flags of mtasts daemon; each one that is given
// overrides the configuration file.
type daemonFlags struct {
	config        string
	listen        []string
	cache         string
	metrics       string
	maps          []string
	net           netFlags
	noServername  bool
	tlsrpt        bool
	strictTesting bool
	dane          bool
	recheck       time.Duration
	logLevel      string
	logFormat     string
}

func newDaemonCmd(e *env) *cobra.Command {
	var f daemonFlags
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Serve MTA-STS TLS policies to Postfix over socketmap",
		Long: `Answer Postfix's TLS policy lookups (smtp_tls_policy_maps) with the MTA-STS
policy of each next-hop domain (RFC 8461), over Postfix's socketmap protocol
on TCP or a UNIX socket. Wire Postfix to it with one line of main.cf:

  smtp_tls_policy_maps = socketmap:inet:127.0.0.1:8461:postfix

Answers: a domain whose policy is in mode enforce gets
"secure match=<mx patterns> servername=hostname", so Postfix delivers only
over TLS with a certificate valid for a listed MX host; testing, none and
no policy get NOTFOUND (Postfix's own TLS settings apply); when DNS fails
and nothing is cached, TEMP, so Postfix defers the mail rather than
sending it with weaker protection.

Policies are cached (--cache, SQLite by default; Redis or PostgreSQL to
share one cache between MTAs) and refreshed before they expire. Settings
come from the [daemon] section of a TOML file (--config; every key is
documented in docs/mtasts.example.toml) and from flags, which win. SIGHUP
reloads the file; SIGTERM or SIGINT stops the daemon after the lookups in
flight are answered.

Exit status: 0 stopped by a signal, 3 could not start or failed.`,
		Example: `  mtasts daemon
  mtasts daemon --listen 127.0.0.1:8461 --listen unix:/run/mtasts/socketmap.sock --metrics 127.0.0.1:9461
  mtasts daemon --config /etc/mtasts/mtasts.toml
  postmap -q example.com socketmap:inet:127.0.0.1:8461:postfix`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDaemon(cmd.Context(), e, cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "TOML configuration file; its [daemon] section is read")
	fl.StringArrayVar(&f.listen, "listen", nil, "address to serve socketmap on, HOST:PORT or unix:/path; repeatable (default 127.0.0.1:8461)")
	fl.StringVar(&f.cache, "cache", "", "policy cache: memory:, sqlite:///path, redis://host/db, postgres://… (default "+cache.DefaultURL+", or cache.db in $STATE_DIRECTORY)")
	fl.StringVar(&f.metrics, "metrics", "", "address to serve Prometheus metrics on, at /metrics (default: none)")
	fl.StringArrayVar(&f.maps, "map", nil, "socketmap name to answer, the last field of Postfix's socketmap:…:NAME; repeatable (default postfix and sts)")
	f.net.register(cmd)
	fl.BoolVar(&f.noServername, "no-servername", false, "leave servername=hostname out of policies, for Postfix older than 3.4")
	fl.BoolVar(&f.tlsrpt, "tlsrpt", false, "add the TLSRPT attributes of Postfix 3.10 (policy_type, policy_domain, policy_string, mx_host_pattern)")
	fl.BoolVar(&f.strictTesting, "strict-testing", false, "enforce policies in mode testing too (all domains; zones can set it per domain)")
	fl.BoolVar(&f.dane, "dane", false, "answer \"dane\" for domains whose MX hosts have DNSSEC-signed TLSA records (default: on when the resolver validates DNSSEC; Postfix needs smtp_dns_support_level = dnssec)")
	fl.DurationVar(&f.recheck, "recheck-interval", mtastsresolver.DefaultRecheckInterval, "how long a cached policy is answered before its TXT id is compared with DNS again (RFC 8461 §5.1)")
	fl.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default info)")
	fl.StringVar(&f.logFormat, "log-format", "", "text or json (default text)")
	return cmd
}

// daemonConfigFrom reads the configuration file named by the flags and
// applies the flags that were given on top.
func daemonConfigFrom(e *env, cmd *cobra.Command, f *daemonFlags) (*daemonConfig, error) {
	c, err := loadDaemonConfig(f.config, e.getenv)
	if err != nil {
		return nil, err
	}
	set := cmd.Flags().Changed
	f.net.override(c, set)
	for name, apply := range map[string]func(){
		"listen":           func() { c.Listen = f.listen },
		"cache":            func() { c.Cache = f.cache },
		"metrics":          func() { c.Metrics = f.metrics },
		"map":              func() { c.Maps = f.maps },
		"no-servername":    func() { c.Servername = !f.noServername },
		"tlsrpt":           func() { c.TLSRPT = f.tlsrpt },
		"strict-testing":   func() { c.Zone.StrictTesting = &f.strictTesting },
		"dane":             func() { c.DANE = &f.dane },
		"recheck-interval": func() { c.RecheckInterval = f.recheck },
		"log-level":        func() { c.LogLevel = f.logLevel },
		"log-format":       func() { c.LogFormat = f.logFormat },
	} {
		if set(name) {
			apply()
		}
	}
	return c, c.check()
}

// daemon is a running mtasts daemon.
type daemon struct {
	e       *env
	cmd     *cobra.Command
	flags   *daemonFlags
	log     *slog.Logger
	level   *slog.LevelVar
	metrics *daemonMetrics
	cache   cache.Cache
	server  *socketmap.Server

	config   atomic.Pointer[daemonConfig]
	resolver atomic.Pointer[mtastsresolver.Resolver]
	refresh  context.CancelFunc // stops the current resolver's refresh loop
	wg       sync.WaitGroup     // refresh loops
}

// Decide implements postfix.Decider with the current resolver, which a
// reload may replace, giving up after query_timeout: the resolver then
// answers Tempfail and Postfix gets TEMP before its own timeout.
func (d *daemon) Decide(ctx context.Context, nexthop string) (mtastsresolver.Decision, error) {
	ctx, cancel := withLazyDeadline(ctx, time.Now().Add(d.config.Load().QueryTimeout))
	defer cancel()
	return d.resolver.Load().Decide(ctx, nexthop)
}

// options returns the Postfix reply options for a policy domain.
func (d *daemon) options(domain string) postfix.Options {
	c := d.config.Load()
	z, _ := c.zone(domain)
	return postfix.Options{StrictTesting: *z.StrictTesting, NoServername: !c.Servername, TLSRPT: c.TLSRPT}
}

func runDaemon(ctx context.Context, e *env, cmd *cobra.Command, f *daemonFlags) error {
	cfg, err := daemonConfigFrom(e, cmd, f)
	if err != nil {
		return usageError(err)
	}
	d := &daemon{e: e, cmd: cmd, flags: f, level: new(slog.LevelVar), metrics: newDaemonMetrics()}
	d.level.Set(cfg.logLevel)
	d.log = newLogger(e.stderr, cfg.LogFormat, d.level)
	d.config.Store(cfg)
	if err := d.start(ctx, cfg); err != nil {
		d.log.Error("cannot start", "err", err)
		return exitWith(exitCannotRun)
	}
	defer d.cache.Close()
	return d.serve(ctx, cfg)
}

// newLogger returns a slog logger writing text or JSON to w.
func newLogger(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// start opens the cache and makes the resolver and the socketmap server.
func (d *daemon) start(ctx context.Context, cfg *daemonConfig) error {
	r, c, err := newResolver(ctx, d.e, d.setup(cfg))
	if err != nil {
		return err
	}
	d.cache = c
	d.resolver.Store(r)
	h := &postfix.Handler{Resolver: d, Options: d.options, Logger: d.log, Answered: d.metrics.answered}
	mux := &socketmap.Mux{}
	for _, name := range cfg.Maps {
		mux.Handle(name, h)
	}
	d.server = &socketmap.Server{Handler: mux, Logger: d.log, Observer: d.metrics.observe}
	return nil
}

// setup is the resolver setup of cfg.
func (d *daemon) setup(cfg *daemonConfig) resolverSetup {
	return cfg.resolverSetup(d.log, d.metrics)
}

// serve listens, serves until ctx ends, reloads on SIGHUP, and shuts down.
func (d *daemon) serve(ctx context.Context, cfg *daemonConfig) error {
	var listeners []net.Listener
	closeAll := func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	for _, s := range cfg.Listen {
		a, _ := parseListenAddr(s) // checked by check
		l, err := a.listen(cfg.socketMode)
		if err != nil {
			closeAll()
			d.log.Error("cannot listen", "addr", s, "err", err)
			return exitWith(exitCannotRun)
		}
		listeners = append(listeners, l)
	}
	var metricsSrv *http.Server
	if cfg.Metrics != "" {
		ml, err := net.Listen("tcp", cfg.Metrics)
		if err != nil {
			closeAll()
			d.log.Error("cannot listen for metrics", "addr", cfg.Metrics, "err", err)
			return exitWith(exitCannotRun)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go metricsSrv.Serve(ml)
		d.log.Info("serving metrics", "addr", "http://"+ml.Addr().String()+"/metrics")
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	d.startRefresh(cfg)
	failed := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() {
			if err := d.server.Serve(l); err != nil && !errors.Is(err, socketmap.ErrServerClosed) {
				failed <- fmt.Errorf("serving on %s: %w", l.Addr(), err)
			}
		}()
		d.log.Info("listening", "addr", listenerName(l), "maps", cfg.Maps)
	}

	code := exitOK
	for running := true; running; {
		select {
		case <-ctx.Done():
			d.log.Info("shutting down", "timeout", d.config.Load().ShutdownTimeout)
			running = false
		case err := <-failed:
			d.log.Error("listener failed", "err", err)
			code, running = exitCannotRun, false
		case <-hup:
			d.reload(ctx)
		}
	}
	d.shutdown(metricsSrv)
	return exitWith(code)
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
func (d *daemon) startRefresh(cfg *daemonConfig) {
	if d.refresh != nil {
		d.refresh()
		d.refresh = nil
	}
	if !cfg.Refresh {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.refresh = cancel
	r := d.resolver.Load()
	d.wg.Go(func() { r.Run(ctx) })
}

// shutdown answers the lookups in flight, waiting at most the shutdown
// timeout, and stops everything else.
func (d *daemon) shutdown(metricsSrv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), d.config.Load().ShutdownTimeout)
	defer cancel()
	if err := d.server.Shutdown(ctx); err != nil {
		d.log.Warn("lookups still in flight at the shutdown timeout; closing", "err", err)
		d.server.Close()
	}
	if d.refresh != nil {
		d.refresh()
	}
	d.wg.Wait()
	if metricsSrv != nil {
		metricsSrv.Shutdown(ctx)
	}
	d.log.Info("stopped")
}

// reload reads the configuration file again and applies what can change
// while running: zones, reply options, DANE, timeouts, refresh and the log
// level. Settings that need a restart are kept as they run, with a
// warning. A file that does not load leaves everything as it was.
func (d *daemon) reload(ctx context.Context) {
	old := d.config.Load()
	cfg, err := daemonConfigFrom(d.e, d.cmd, d.flags)
	if err != nil {
		d.log.Error("reload failed; keeping the running configuration", "err", err)
		return
	}
	was := old.restartOnly()
	for k, v := range cfg.restartOnly() {
		if was[k] != v {
			d.log.Warn("reload cannot change this setting; restart to apply it", "setting", k, "running", was[k], "file", v)
		}
	}
	// Keep what needs a restart as it is running.
	cfg.Listen, cfg.SocketMode, cfg.Maps, cfg.Cache, cfg.Metrics = old.Listen, old.SocketMode, old.Maps, old.Cache, old.Metrics
	cfg.Resolver, cfg.CAFile, cfg.LogFormat = old.Resolver, old.CAFile, old.LogFormat
	r, err := resolverOver(d.e, d.setup(cfg), d.cache)
	if err != nil {
		d.log.Error("reload failed; keeping the running configuration", "err", err)
		return
	}
	d.resolver.Store(r)
	d.config.Store(cfg)
	d.level.Set(cfg.logLevel)
	d.startRefresh(cfg)
	d.log.InfoContext(ctx, "configuration reloaded", "file", d.flags.config, "zones", len(cfg.Zones))
}
