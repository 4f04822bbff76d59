package serve

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtasts/mtasts/ingest"
	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/web"
)

// mountReports mounts the TLS-RPT endpoint and the dashboard on srv as the
// configuration asks, over one report store, and starts the SMTP/LMTP
// listener and the IMAP poller for report mail when they are configured.
// They run until ctx ends or the returned function is called, which stops
// them, waits for them and closes the store.
//
// These parts are set up once at start: changing [serve.reports] or
// [serve.dashboard] needs a restart.
func mountReports(ctx context.Context, srv *policyhost.Server, cfg *Config, reg prometheus.Registerer, logger *slog.Logger, now func() time.Time) (stop func(), err error) {
	if !cfg.Reports.Enabled && !cfg.Dashboard.Enabled {
		return func() {}, nil
	}
	store, err := reportstore.Open(ctx, cfg.Store.URL, reportstore.Options{Now: now, Quarantine: cfg.Reports.Quarantine})
	if err != nil {
		return nil, fmt.Errorf("report store: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop = func() {
		cancel()
		wg.Wait()
		store.Close()
	}
	fail := func(err error) (func(), error) {
		stop()
		return nil, err
	}
	if rc := cfg.Reports; rc.Enabled {
		ing, err := ingest.New(ingest.Config{Store: store, DKIM: ingest.DKIMPolicy(rc.DKIM), Metrics: ingest.NewMetrics(reg), Logger: logger, Now: now})
		if err != nil {
			return fail(err)
		}
		srv.Mount(rc.Path, ing.Handler(rc.HandlerOptions(cfg.Limits.ReadTimeout)))
		restore := limitHeap(rc.Memory, logger)
		prevStop := stop
		stop = func() { prevStop(); restore() }
		reg.MustRegister(newSessionsCollector(store, servedDomains(srv), now, logger))
		logger.Info("receiving TLS reports over HTTPS", "path", rc.Path, "store", cfg.Store.URL)
		if rc.SMTPListen != "" {
			l, err := net.Listen("tcp", rc.SMTPListen)
			if err != nil {
				return fail(fmt.Errorf("report mail listener: %w", err))
			}
			tlsConfig, err := reportMailTLS(srv, rc, logger)
			if err != nil {
				l.Close()
				return fail(fmt.Errorf("report mail listener: %w", err))
			}
			s := ing.NewSMTPServer(ingest.SMTPOptions{Domain: rc.SMTPDomain, LMTP: rc.LMTP, Recipients: rc.Recipients, TLSConfig: tlsConfig})
			logger.Info("receiving TLS report mail", "addr", l.Addr().String(), "lmtp", rc.LMTP, "starttls", tlsConfig != nil)
			wg.Go(func() { _ = s.Serve(l) })
			wg.Go(func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = s.Shutdown(sctx)
			})
		}
		if ic := rc.IMAP; ic.Addr != "" {
			p := ing.NewIMAPPoller(ingest.IMAPConfig{Addr: ic.Addr, Security: ic.Security, Username: ic.Username, Password: ic.Password,
				Mailbox: ic.Mailbox, Processed: ic.Processed, Interval: ic.Interval})
			logger.Info("polling a mailbox for TLS report mail", "addr", ic.Addr, "mailbox", ic.Mailbox)
			wg.Go(func() {
				if err := p.Run(ctx); err != nil && ctx.Err() == nil {
					logger.Error("IMAP poller stopped", "error", err)
				}
			})
		}
	}
	if cfg.Dashboard.Enabled {
		h, err := web.New(store, web.Options{Auth: cfg.Dashboard.Auth, BasePath: cfg.Dashboard.Path, Logger: logger, Now: now})
		if err != nil {
			return fail(err)
		}
		srv.Mount(cfg.Dashboard.Path, h)
		logger.Info("serving the report dashboard", "path", cfg.Dashboard.Path)
	}
	return stop, nil
}

// reportMailTLS returns the TLS configuration with which the report mail
// listener offers STARTTLS (RFC 3207), or nil for none. The certificate
// is for rc.SMTPDomain whatever the client's SNI: from smtp_cert_file and
// smtp_key_file (reloaded when they change, its expiry checked with the
// policy hosts' certificates) if set, else, on an SMTP
// listener, the one srv has for that name when it is one of its policy
// hosts (from files or ACME, as for HTTPS). Without either, the listener
// offers no STARTTLS, with a warning that says how to give it one.
func reportMailTLS(srv *policyhost.Server, rc Reports, logger *slog.Logger) (*tls.Config, error) {
	var get func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	switch {
	case !rc.SMTPStartTLS:
		return nil, nil
	case rc.SMTPCertFile != "":
		cf, err := policyhost.LoadCertFile(rc.SMTPDomain, rc.SMTPCertFile, rc.SMTPKeyFile, logger.With("component", "smtp"))
		if err != nil {
			return nil, err
		}
		get = cf.GetCertificate
		service := "smtp"
		if rc.LMTP {
			service = "lmtp"
		}
		srv.WatchCertificate(service, cf)
	case rc.LMTP:
		return nil, nil // a local MTA delivers over LMTP: STARTTLS only with files
	default:
		var ok bool
		if get, ok = srv.CertificateFor(rc.SMTPDomain); !ok {
			reason := "smtp_domain is not set"
			if rc.SMTPDomain != "" {
				reason = fmt.Sprintf("smtp_domain %q is not a policy host served here (mta-sts.<domain> of a [[domain]]), the only names serve has certificates for", rc.SMTPDomain)
			}
			logger.Warn("report mail listener starts without STARTTLS: no certificate for it",
				"reason", reason,
				"fix", "under [serve.reports] set smtp_cert_file and smtp_key_file to a certificate for smtp_domain, or set smtp_domain to a served policy host; smtp_starttls = false turns STARTTLS off without this warning")
			return nil, nil
		}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: get}, nil
}

// limitHeap sets the Go runtime's soft memory limit to twice the memory
// budget of the report endpoint plus 32 MiB (224 MiB by default), unless
// one is set already (GOMEMLIMIT), and returns a function that restores
// it. The budget bounds what report POSTs hold live; the soft limit makes
// the collector reclaim their garbage before the heap doubles, so that a
// flood of them keeps the process's memory near the budget.
func limitHeap(budget int64, logger *slog.Logger) (restore func()) {
	if debug.SetMemoryLimit(-1) != math.MaxInt64 {
		return func() {}
	}
	limit := 2*budget + 32<<20
	debug.SetMemoryLimit(limit)
	logger.Debug("soft memory limit set", "bytes", limit)
	return func() { debug.SetMemoryLimit(math.MaxInt64) }
}

// servedDomains returns a function listing the policy domains srv serves
// now, after any reload.
func servedDomains(srv *policyhost.Server) func() []string {
	return func() []string {
		var ds []string
		for _, p := range srv.Handler().Policies() {
			ds = append(ds, p.Domain)
		}
		return ds
	}
}
