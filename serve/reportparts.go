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

// reportParts are the parts of serve that receive and show TLS reports,
// over one report store: the TLS-RPT endpoint and the dashboard mounted
// on the policy host, the SMTP/LMTP listener and the IMAP poller for
// report mail, as the configuration asks. They are set up once at start:
// changing [serve.reports] or [serve.dashboard] needs a restart.
type reportParts struct {
	cfg      *Config
	log      *slog.Logger
	store    *reportstore.Store // nil when neither reports, the dashboard nor the monitor are on
	ingester *ingest.Ingester   // nil when reports are off
	restore  func()             // restores the soft memory limit

	mailTLS      *tls.Config
	mailListener net.Listener // until run hands it to the SMTP server
	mailAddr     net.Addr     // the address of mailListener
	wg           sync.WaitGroup
}

// openReports opens the report store and mounts the TLS-RPT endpoint
// and the dashboard on host as cfg asks, and registers the sessions
// gauge on reg. mail, if not nil, is the report mail listener, which run
// serves. Close releases what it opened, and mail; so does a failure.
func openReports(ctx context.Context, host *policyhost.Server, cfg *Config, mail net.Listener, reg prometheus.Registerer, logger *slog.Logger, now func() time.Time) (_ *reportParts, err error) {
	r := &reportParts{cfg: cfg, log: logger, restore: func() {}, mailListener: mail}
	if mail != nil {
		r.mailAddr = mail.Addr()
	}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if !cfg.usesStore() {
		return r, nil
	}
	r.store, err = reportstore.Open(ctx, cfg.StoreURL(), reportstore.Options{Now: now, Quarantine: cfg.Reports.Quarantine})
	if err != nil {
		return nil, fmt.Errorf("report store: %w", err)
	}
	if rc := cfg.Reports; rc.Enabled {
		r.ingester, err = ingest.New(ingest.Config{Store: r.store, DKIM: ingest.DKIMPolicy(rc.DKIM), Metrics: ingest.NewMetrics(reg), Logger: logger, Now: now})
		if err != nil {
			return nil, err
		}
		host.Mount(rc.Path, r.ingester.Handler(rc.HandlerOptions(cfg.Limits.ReadTimeout)))
		r.restore = limitHeap(rc.Memory, logger)
		reg.MustRegister(newSessionsCollector(r.store, servedDomains(host), now, logger))
		logger.Info("receiving TLS reports over HTTPS", "path", rc.Path, "store", cfg.StoreURL())
		if rc.SMTPListen != "" {
			if r.mailTLS, err = reportMailTLS(host, rc, logger); err != nil {
				return nil, fmt.Errorf("report mail listener: %w", err)
			}
		}
	}
	if cfg.Dashboard.Enabled {
		h, err := web.New(r.store, web.Options{Auth: cfg.Dashboard.Auth, BasePath: cfg.Dashboard.Path, Logger: logger, Now: now})
		if err != nil {
			return nil, err
		}
		host.Mount(cfg.Dashboard.Path, h)
		logger.Info("serving the report dashboard", "path", cfg.Dashboard.Path)
	}
	return r, nil
}

// run serves report mail on the listener given to openReports and polls the
// IMAP mailbox, if configured, until ctx ends.
func (r *reportParts) run(ctx context.Context) {
	if r.ingester == nil {
		return
	}
	rc := r.cfg.Reports
	if l := r.mailListener; l != nil {
		s := r.ingester.NewSMTPServer(ingest.SMTPOptions{Domain: rc.SMTPDomain, LMTP: rc.LMTP, Recipients: rc.Recipients, TLSConfig: r.mailTLS,
			Timeout: rc.SMTPTimeout, SessionTimeout: rc.SMTPSessionTimeout, MaxConns: rc.SMTPMaxConns, MaxConnsPerClient: rc.SMTPMaxConnsPerIP})
		r.log.Info("receiving TLS report mail", "addr", l.Addr().String(), "lmtp", rc.LMTP, "starttls", r.mailTLS != nil)
		r.mailListener = nil // s closes it
		r.wg.Go(func() { _ = s.Serve(l) })
		r.wg.Go(func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = s.Shutdown(sctx)
			// Shutdown closes the listeners Serve has taken: one that
			// has not started yet would wait on l forever.
			l.Close()
		})
	}
	if ic := rc.IMAP; ic.Addr != "" {
		p := r.ingester.NewIMAPPoller(ingest.IMAPConfig{Addr: ic.Addr, Security: ic.Security, Username: ic.Username, Password: ic.Password,
			Mailbox: ic.Mailbox, Processed: ic.Processed, Interval: ic.Interval})
		r.log.Info("polling a mailbox for TLS report mail", "addr", ic.Addr, "mailbox", ic.Mailbox)
		r.wg.Go(func() {
			if err := p.Run(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("IMAP poller stopped", "error", err)
			}
		})
	}
}

// close waits for what run started, once its context has ended, closes
// the report mail listener if run did not take it, and the store, and
// restores the soft memory limit.
func (r *reportParts) close() {
	r.wg.Wait()
	if r.mailListener != nil {
		r.mailListener.Close()
		r.mailListener = nil
	}
	if r.store != nil {
		r.store.Close()
		r.store = nil
	}
	r.restore()
	r.restore = func() {}
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
