package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtasts/mtasts/internal/procenv"
	"github.com/mtasts/mtasts/policyhost"
)

// Options are what a Service takes from the program that runs it rather
// than from its Config. The zero value is usable.
type Options struct {
	// Log receives the service's log and access log, in the configured
	// format and level; nil means standard error.
	Log io.Writer
	// Now is the clock of policy ids, certificate expiry and stored
	// reports; nil means time.Now.
	Now func() time.Time
	// Getenv reads GOGC, which, when set, keeps the service from tuning
	// the garbage collector; nil means os.Getenv.
	Getenv func(string) string
	// Resolver looks up MX records for mx "auto" domains; nil means
	// net.DefaultResolver.
	Resolver policyhost.MXResolver
	// Load returns the configuration to apply on SIGHUP and when the file
	// changes: the file read again, with whatever the program sets on
	// top. Nil means that nothing is reloaded.
	Load func() (*Config, error)
	// Registry receives the service's metrics (docs/metrics.md) and is
	// served on the metrics listener; one registry serves one Service.
	// Nil means a new one, with the Go runtime and process collectors.
	Registry *prometheus.Registry
	// Watcher, if set, runs while the service serves (see Watcher).
	Watcher Watcher
}

// withDefaults returns o with its nil fields set.
func (o Options) withDefaults() Options {
	procenv.Defaults(&o.Log, &o.Now, &o.Getenv)
	if o.Registry == nil {
		o.Registry = procenv.NewRegistry()
	}
	return o
}

// ConfigError is the error of New for a configuration that loads but
// cannot be served, such as a certificate file that does not match its
// key, as opposed to a failure to start (a listener, the data directory).
type ConfigError struct {
	// Path is the configuration file.
	Path string
	Err  error
}

// Error returns the path and the cause.
func (e *ConfigError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// Service is "mtasts serve": the policy host of every configured domain,
// with, as the configuration asks, the report endpoint, the dashboard,
// the report mail listener and the IMAP poller over one report store,
// and reloads of the configuration. Make it with New, open its listeners
// with Listen, run it with Serve and Close it.
type Service struct {
	// ctx is New's, for the report store that Listen opens.
	ctx       context.Context
	opts      Options
	cfg       *Config
	log       *slog.Logger
	flushLog  func()
	lock      *policyhost.DataDirLock
	host      *policyhost.Server
	reports   *reportParts
	listeners policyhost.Listeners
	served    bool
}

// Run runs the service of cfg until ctx ends, as "mtasts serve" does:
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

// New validates cfg, locks its data directory (one server at a time
// may use it: policy ids and ACME files are written there; the lock is
// held through reloads until Close) and loads what the policy host
// serves. It listens nowhere yet, and opens no store. A configuration
// that cannot be served is a *ConfigError.
//
// A start writes nothing before it is sure to start: the policy ids New
// assigns are held in memory, Listen opens the report store only once
// every listener is open, and Serve writes the ids and publishes them by
// DNS update. A start that fails (a listener, the store) leaves nothing
// but the lock file.
func New(ctx context.Context, cfg *Config, o Options) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &ConfigError{Path: cfg.Path, Err: err}
	}
	s := &Service{ctx: ctx, opts: o.withDefaults(), cfg: cfg}
	var access *slog.Logger
	s.log, access, s.flushLog = newServeLoggers(s.opts.Log, cfg)
	if cfg.stateNote != "" && cfg.DataDir == cfg.defaultDataDir {
		s.log.Warn("data directory: " + cfg.stateNote)
	}
	var err error
	if s.lock, err = policyhost.LockDataDir(cfg.DataDir); err != nil {
		s.flushLog()
		return nil, err
	}
	hostOpts := policyhost.Options{Logger: s.log, AccessLogger: access, Registry: s.opts.Registry, Resolver: s.opts.Resolver, Now: s.opts.Now, Hold: true}
	if cfg.MXValidate {
		hostOpts.ValidateMX = newMXValidator(nil, nil, s.opts.Now)
	}
	s.host, err = policyhost.New(ctx, cfg.Config, hostOpts)
	if err != nil {
		s.Close()
		return nil, &ConfigError{Path: cfg.Path, Err: err}
	}
	return s, nil
}

// Listen opens the HTTPS listener and, if configured, the HTTP, metrics
// and report mail listeners, and then opens the report store and mounts
// the report endpoint and the dashboard if configured. On failure it
// closes what it opened.
func (s *Service) Listen() error {
	ls, err := s.host.Listen()
	if err != nil {
		return err
	}
	var mail net.Listener
	if rc := s.cfg.Reports; rc.Enabled && rc.SMTPListen != "" {
		if mail, err = net.Listen("tcp", rc.SMTPListen); err != nil {
			ls.Close()
			return fmt.Errorf("report mail listener: %w", err)
		}
	}
	if s.reports, err = openReports(s.ctx, s.host, s.cfg, mail, s.opts.Registry, s.log, s.opts.Now); err != nil {
		ls.Close()
		return err
	}
	s.listeners = ls
	return nil
}

// HTTPSAddr returns the address of the HTTPS listener once Listen has
// opened it.
func (s *Service) HTTPSAddr() net.Addr { return addr(s.listeners.HTTPS) }

// MetricsAddr returns the address of the metrics listener, or nil.
func (s *Service) MetricsAddr() net.Addr { return addr(s.listeners.Metrics) }

// ReportMailAddr returns the address of the report mail listener, or nil.
func (s *Service) ReportMailAddr() net.Addr {
	if s.reports == nil {
		return nil
	}
	return s.reports.mailAddr
}

func addr(l net.Listener) net.Addr {
	if l == nil {
		return nil
	}
	return l.Addr()
}

// Serve writes and publishes the policy ids New assigned, then serves on
// the listeners opened by Listen until ctx ends, polls the IMAP mailbox
// of report mail if configured, and reloads the configuration on SIGHUP
// and when the file changes (see Options.Load). Then it shuts down
// gracefully. It returns nil after a clean shutdown.
func (s *Service) Serve(ctx context.Context) error {
	if s.listeners.HTTPS == nil {
		return errors.New("serve: Serve without Listen")
	}
	if err := s.host.Commit(ctx); err != nil {
		return err
	}
	s.served = true
	if s.opts.Getenv("GOGC") == "" { // the user's GOGC wins
		defer debug.SetGCPercent(debug.SetGCPercent(policyhost.GCPercent))
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	s.reports.run(ctx)
	s.startWatcher(ctx)
	if s.opts.Load != nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					s.reloadFile(ctx, "SIGHUP")
				}
			}
		}()
		go Watch(ctx, s.cfg.Path, s.cfg.ConfigCheck, func() { s.reloadFile(ctx, "file changed") })
	}
	if err := s.host.Run(ctx, s.listeners); err != nil {
		return err
	}
	s.log.Info("stopped")
	return nil
}

// reloadFile applies the configuration that Options.Load returns; why is
// logged.
func (s *Service) reloadFile(ctx context.Context, why string) {
	s.log.Info("reloading configuration", "reason", why, "path", s.cfg.Path)
	cfg, err := s.opts.Load()
	if err != nil {
		s.log.Error("configuration refused; the previous one stays in force", "error", err)
		return
	}
	_ = s.Reload(ctx, cfg)
}

// Reload applies what the policy host can change while running (see
// policyhost.Server.Reload, which logs the outcome); the report parts
// and the log settings keep what they started with.
func (s *Service) Reload(ctx context.Context, cfg *Config) error {
	return s.host.Reload(ctx, cfg.Config)
}

// Close closes the listeners if Serve did not run, waits for the report
// parts, closes the report store, releases the data directory and
// flushes the access log.
func (s *Service) Close() {
	if !s.served {
		s.listeners.Close()
	}
	if s.reports != nil {
		s.reports.close()
	}
	s.flushLog()
	s.lock.Release()
}
