package policyhost

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Run serves on ls until ctx is done, then shuts down gracefully: the
// listeners close, open requests get Options.ShutdownTimeout to finish.
// It starts ACME when enabled, and the periodic MX refresh, certificate
// file check and expiry check. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context, ls Listeners) error {
	if ls.HTTPS == nil {
		return errors.New("policyhost: no HTTPS listener")
	}
	cfg := s.Config()
	lim := newConnLimiter(cfg.Limits, s.metrics)
	var accessLog *slog.Logger
	if cfg.AccessLog {
		accessLog = s.opts.AccessLogger
	}
	if cfg.ACME.Enabled {
		var httpAddr net.Addr
		if ls.HTTP != nil {
			httpAddr = ls.HTTP.Addr()
		}
		a, err := newACMEManager(cfg.ACME, cfg.DNSUpdate, cfg.DataDir, s.log, httpAddr, ls.HTTPS.Addr())
		if err != nil {
			return err
		}
		defer a.stop()
		s.reloadMu.Lock()
		s.acme.Store(a)
		err = a.manage(ctx, s.acmeNames())
		s.reloadMu.Unlock()
		if err != nil {
			return err
		}
	}

	type endpoint struct {
		l     net.Listener
		srv   *http.Server
		proto string
	}
	var eps []endpoint
	// The limited listeners' connections bound their writes themselves
	// (limitConn), and observe bounds request bodies, at less cost per
	// request than http.Server's WriteTimeout and ReadTimeout would.
	limited := func(l net.Listener) net.Listener {
		return &limitListener{Listener: l, lim: lim, writeTimeout: cfg.Limits.WriteTimeout}
	}
	connLimits := cfg.Limits
	connLimits.WriteTimeout, connLimits.ReadTimeout = 0, 0
	https := s.newHTTPServer(connLimits, observe(s.handler, s.handler, s.metrics, accessLog, cfg.Limits.ReadTimeout))
	https.TLSConfig = s.TLSConfig()
	eps = append(eps, endpoint{limited(ls.HTTPS), https, "https"})
	if ls.HTTP != nil {
		var h http.Handler = http.HandlerFunc(plainHTTP)
		if a := s.acme.Load(); a != nil {
			h = a.httpHandler(h)
		}
		eps = append(eps, endpoint{limited(ls.HTTP), s.newHTTPServer(connLimits, observe(h, s.handler, s.metrics, accessLog, cfg.Limits.ReadTimeout)), "http"})
	}
	if ls.Metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{}))
		eps = append(eps, endpoint{ls.Metrics, s.newHTTPServer(cfg.Limits, mux), "metrics"})
	}

	errc := make(chan error, len(eps))
	for _, ep := range eps {
		s.log.Info("listening", "addr", ep.l.Addr().String(), "proto", ep.proto)
		go func() {
			var err error
			if ep.srv.TLSConfig != nil {
				err = ep.srv.ServeTLS(ep.l, "", "")
			} else {
				err = ep.srv.Serve(ep.l)
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		}()
	}

	var wg sync.WaitGroup
	loopCtx, stopLoops := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.maintain(loopCtx)
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	stopLoops()
	wg.Wait()
	s.log.Info("shutting down", "timeout", s.opts.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	for _, ep := range eps {
		if err := ep.srv.Shutdown(sctx); err != nil {
			ep.srv.Close()
		}
	}
	s.acme.Store(nil)
	return runErr
}

// newHTTPServer returns an http.Server with the timeouts and size limits
// of l: a slow client (slowloris) is cut off by the header and read
// timeouts, and each connection holds at most one request head of
// MaxHeaderBytes.
func (s *Server) newHTTPServer(l Limits, h http.Handler) *http.Server {
	streams := l.MaxStreams
	if streams <= 0 {
		streams = 32
	}
	h2 := &http.HTTP2Config{MaxConcurrentStreams: streams, MaxReadFrameSize: 16 << 10}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		HTTP2:             h2,
		ErrorLog:          log.New(&errorLogWriter{s.log}, "", 0),
	}
}

// plainHTTP answers everything on the plain HTTP listener that is not an
// ACME challenge: policies are served over HTTPS only (RFC 8461 §3.3), and
// with no redirect either.
func plainHTTP(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "404 not found: MTA-STS policies are served over HTTPS only", http.StatusNotFound)
}

// maintain runs the periodic work until ctx is done: MX refresh for mx
// auto domains, and certificate file reload and expiry check.
func (s *Server) maintain(ctx context.Context) {
	cfg := s.Config()
	mxTick := time.NewTicker(positive(cfg.MXRefresh, time.Hour))
	certTick := time.NewTicker(positive(cfg.CertCheck, time.Minute))
	defer mxTick.Stop()
	defer certTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-mxTick.C:
			s.refresh(ctx, true)
		case <-certTick.C:
			s.refresh(ctx, false)
		}
	}
}

// refresh reloads the configuration in force: with fresh MX lookups if
// lookupMX, else only what changed on disk (certificate files).
func (s *Server) refresh(ctx context.Context, lookupMX bool) {
	cfg := s.Config()
	if err := s.load(ctx, &cfg, lookupMX); err != nil {
		s.log.Error("refresh failed; still serving what was loaded before", "error", err)
	}
}

func positive(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// errorLogWriter sends net/http's error log (TLS handshake errors and
// the like) to slog at level Debug: they are the clients' problems.
type errorLogWriter struct{ log *slog.Logger }

func (w *errorLogWriter) Write(p []byte) (int, error) {
	msg := string(p)
	if n := len(msg); n > 0 && msg[n-1] == '\n' {
		msg = msg[:n-1]
	}
	w.log.Debug("http", "error", msg)
	return len(p), nil
}
