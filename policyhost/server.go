package policyhost

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mholt/acmez/v3"
	"github.com/prometheus/client_golang/prometheus"
)

// Options are the Server's injected dependencies.
type Options struct {
	// Logger receives the server's logs; nil discards.
	Logger *slog.Logger
	// AccessLogger receives the access log, if Config.AccessLog is set;
	// nil means Logger.
	AccessLogger *slog.Logger
	// Registry receives the metrics and is served on the metrics
	// listener; nil means a private registry.
	Registry *prometheus.Registry
	// Resolver looks up MX records for mx "auto" domains; nil means
	// net.DefaultResolver.
	Resolver MXResolver
	// ValidateMX, if set, checks a host new in the live MX records of an
	// mx auto domain in mode enforce before its policy lists it: the
	// caller probes STARTTLS and the certificate (RFC 8461 §4.2). A host
	// that fails is left out, and retried at each MX refresh. Nil lists
	// new hosts at once.
	ValidateMX func(ctx context.Context, host string) error
	// Now is the clock for policy ids, certificate expiry and MX hosts
	// kept after leaving DNS; nil means time.Now.
	Now func() time.Time
	// ShutdownTimeout bounds the wait for open requests at shutdown;
	// 0 means 10 seconds.
	ShutdownTimeout time.Duration
	// Hold makes New keep the policy ids it assigns in memory and publish
	// none by DNS update, until Commit: a program with more to open after
	// New (a store, listeners) then writes nothing if one of them fails.
	Hold bool
}

// Server is the MTA-STS policy host of every configured domain: Handler on
// an HTTPS listener, with certificates from files or ACME, plus an HTTP
// listener for ACME HTTP-01 challenges and a metrics listener. Create it
// with New, start it with Run.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	handler *Handler
	state   *State
	planner *planner

	// reloadMu serializes loads; the fields below change only under it.
	reloadMu  sync.Mutex
	cfg       *Config
	held      bool                 // see Options.Hold and Commit
	published map[string]string    // domain → id last published by DNS update
	warned    map[string]time.Time // certificate → when its expiry was last warned about
	watched   []watchedCert        // certificates of other services, see WatchCertificate

	certs atomic.Pointer[map[string]*fileCert] // policy host → file certificate
	acme  atomic.Pointer[acmeManager]
}

// New validates cfg, opens the state in its data directory and loads
// everything it serves (live MX hosts, policy ids, certificate files),
// without listening yet.
func New(ctx context.Context, cfg Config, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.AccessLogger == nil {
		opts.AccessLogger = opts.Logger
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ACME.Enabled {
		// Read now, though used when Run starts ACME: a start fails
		// before it writes anything.
		if _, err := acmeRoots(cfg.ACME); err != nil {
			return nil, err
		}
	}
	state, err := OpenState(cfg.DataDir, opts.Now)
	if err != nil {
		return nil, err
	}
	if opts.Hold {
		state.Hold()
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		metrics:   newMetrics(opts.Registry),
		handler:   NewHandler(),
		state:     state,
		held:      opts.Hold,
		published: map[string]string{},
		warned:    map[string]time.Time{},
	}
	s.planner = &planner{
		state: state, resolver: opts.Resolver, logger: s.log, known: map[string][]string{},
		onMXChange: func(d string) { s.metrics.mxChanges.WithLabelValues(d).Inc() },
		validateMX: opts.ValidateMX, now: opts.Now,
	}
	empty := map[string]*fileCert{}
	s.certs.Store(&empty)
	if err := s.load(ctx, &cfg, true); err != nil {
		s.metrics.reloads.WithLabelValues("failure").Inc()
		return nil, err
	}
	s.metrics.reloads.WithLabelValues("success").Inc()
	return s, nil
}

// Handler returns the server's http.Handler.
func (s *Server) Handler() *Handler { return s.handler }

// Mount adds a part to the server: see Handler.Mount.
func (s *Server) Mount(pattern string, h http.Handler) { s.handler.Mount(pattern, h) }

// Config returns the configuration in force.
func (s *Server) Config() Config {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return *s.cfg
}

// Reload switches to cfg, with fresh MX lookups. Open connections are kept
// and requests see either the old configuration or the new one. If cfg is
// invalid, or a certificate or MX lookup it needs fails, the error is
// returned and the configuration in force stays. Listener addresses and
// ACME settings take effect only at the next start.
func (s *Server) Reload(ctx context.Context, cfg Config) error {
	err := cfg.Validate()
	if err == nil {
		err = s.load(ctx, &cfg, true)
	}
	if err != nil {
		s.metrics.reloads.WithLabelValues("failure").Inc()
		s.log.Error("configuration refused; the previous one stays in force", "error", err)
		return err
	}
	s.metrics.reloads.WithLabelValues("success").Inc()
	s.log.Info("configuration loaded", "domains", len(cfg.Domains))
	return nil
}

// load builds everything cfg serves and swaps it in; on error nothing
// changes.
func (s *Server) load(ctx context.Context, cfg *Config, lookupMX bool) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	certs, err := s.loadCerts(cfg)
	if err != nil {
		return err
	}
	policies, known, err := s.planner.plan(ctx, cfg, lookupMX)
	if err != nil {
		return err
	}
	s.planner.known = known
	s.handler.SetPolicies(policies)
	s.certs.Store(&certs)
	s.cfg = cfg
	if a := s.acme.Load(); a != nil {
		if err := a.manage(ctx, s.acmeNames()); err != nil {
			s.log.Error("ACME", "error", err)
		}
	}
	s.metrics.policyInfo.Reset()
	for _, p := range policies {
		s.metrics.policyInfo.WithLabelValues(p.Domain, p.ID, string(policyMode(cfg, p.Domain))).Set(1)
	}
	s.checkExpiry()
	if !s.held {
		s.publishIDs(ctx, policies)
	}
	return nil
}

// Commit ends the hold of Options.Hold: it writes the policy ids New
// assigned to the data directory and publishes them by DNS update, if
// configured, as a load does. Without Hold, or once committed, it does
// nothing.
func (s *Server) Commit(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if !s.held {
		return nil
	}
	if err := s.state.Commit(); err != nil {
		return err
	}
	s.held = false
	s.publishIDs(ctx, s.handler.Policies())
	return nil
}

// loadCerts loads the certificate files of cfg, reusing those unchanged.
func (s *Server) loadCerts(cfg *Config) (map[string]*fileCert, error) {
	prev := *s.certs.Load()
	certs := map[string]*fileCert{}
	var errs []error
	for i, d := range cfg.Domains {
		if d.CertFile == "" {
			continue
		}
		host := d.PolicyHost()
		fc, err := loadFileCert(host, d.CertFile, d.KeyFile, prev[host])
		if err != nil {
			errs = append(errs, &DomainError{Index: i, Domain: d.Domain, Key: "cert_file", Err: err})
			continue
		}
		certs[host] = fc
	}
	return certs, errors.Join(errs...)
}

// acmeNames returns the policy hosts whose certificates come from ACME.
func (s *Server) acmeNames() []string {
	var names []string
	for _, d := range s.cfg.Domains {
		if d.CertFile == "" {
			names = append(names, d.PolicyHost())
		}
	}
	return names
}

func policyMode(cfg *Config, domain string) string {
	for _, d := range cfg.Domains {
		if d.Domain == domain {
			return string(d.Mode)
		}
	}
	return ""
}

// TLSConfig returns the TLS configuration of the HTTPS listener: TLS 1.2
// or newer, and a certificate only for the SNI of a served policy host.
// A handshake without SNI or for another name fails (RFC 8461 §7.1:
// senders send SNI).
func (s *Server) TLSConfig() *tls.Config {
	protos := []string{"h2", "http/1.1"}
	if s.acme.Load() != nil {
		protos = append(protos, acmez.ACMETLS1Protocol) // RFC 8737
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     protos,
		GetCertificate: s.getCertificate,
	}
}

func (s *Server) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := requestHost(hello.ServerName)
	if name == "" {
		return nil, errors.New("no SNI: the client did not say which policy host it wants")
	}
	if s.handler.domainOf(name) == "" {
		return nil, fmt.Errorf("no policy host %q here", name)
	}
	a := s.acme.Load()
	if fc := (*s.certs.Load())[name]; fc != nil && !isALPNChallenge(hello) {
		return fc.cert, nil
	}
	if a == nil {
		return nil, fmt.Errorf("no certificate for %q", name)
	}
	return a.getCertificate(hello)
}

// checkExpiry exports the expiry of every certificate, those of the
// policy hosts and those of other services given to WatchCertificate, and
// logs a warning for those expiring within Config.ExpiryWarning, at most
// once a day each.
func (s *Server) checkExpiry() {
	certs := *s.certs.Load()
	a := s.acme.Load()
	for _, d := range s.cfg.Domains {
		c := certExpiry{domain: d.Domain, service: serviceHTTPS, host: d.PolicyHost(), source: "file"}
		if fc := certs[c.host]; fc != nil {
			s.checkCertExpiry(c, fc.notAfter())
		} else if a != nil {
			c.source = "acme"
			if notAfter, ok := a.notAfter(c.host); ok {
				s.checkCertExpiry(c, notAfter)
			}
		}
	}
	for _, w := range s.watched {
		s.checkCertExpiry(certExpiry{service: w.service, host: w.cf.host, source: "file"}, w.cf.NotAfter())
	}
}

// serviceHTTPS is the service of the policy hosts' certificates in the
// expiry metric and logs.
const serviceHTTPS = "https"

// certExpiry identifies one certificate in the expiry metric and logs.
type certExpiry struct {
	domain  string // policy domain, "" for another service's certificate
	service string // serviceHTTPS for a policy host, else as given to WatchCertificate
	host    string // the name the certificate is for
	source  string // "file" or "acme"
}

// checkCertExpiry exports notAfter as the expiry of c and warns about it
// as checkExpiry says.
func (s *Server) checkCertExpiry(c certExpiry, notAfter time.Time) {
	s.metrics.certExpiry.WithLabelValues(c.domain, c.host, c.service, c.source).Set(float64(notAfter.Unix()))
	now := s.opts.Now()
	left := notAfter.Sub(now)
	if left >= s.cfg.ExpiryWarning {
		return
	}
	// Once a day per certificate is enough to be noticed.
	key := c.service + " " + c.host + " " + notAfter.String()
	if last, ok := s.warned[key]; ok && now.Sub(last) < 24*time.Hour {
		return
	}
	s.warned[key] = now
	attrs := []any{"host", c.host, "service", c.service, "not_after", notAfter, "source", c.source}
	if c.domain != "" {
		attrs = append([]any{"domain", c.domain}, attrs...)
	}
	switch {
	case left <= 0 && c.service == serviceHTTPS:
		s.log.Error("certificate expired: senders cannot fetch the policy", attrs...)
	case left <= 0:
		s.log.Error("certificate expired", attrs...)
	default:
		s.log.Warn("certificate expires soon", append(attrs, "days_left", int(left.Hours()/24))...)
	}
}

// Listeners are the sockets a Server serves on. HTTP and Metrics may be nil.
type Listeners struct {
	HTTPS, HTTP, Metrics net.Listener
}

// Close closes the listeners that are set.
func (ls Listeners) Close() {
	for _, l := range []net.Listener{ls.HTTPS, ls.HTTP, ls.Metrics} {
		if l != nil {
			l.Close()
		}
	}
}

// Listen opens the listeners of the configuration.
func (s *Server) Listen() (Listeners, error) {
	cfg := s.Config()
	var ls Listeners
	var err error
	open := func(addr string) net.Listener {
		if addr == "" || err != nil {
			return nil
		}
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err != nil {
			err = fmt.Errorf("listening on %s: %w", addr, err)
		}
		return l
	}
	ls.HTTPS, ls.HTTP, ls.Metrics = open(cfg.ListenHTTPS), open(cfg.ListenHTTP), open(cfg.ListenMetrics)
	if err != nil {
		ls.Close()
		return Listeners{}, err
	}
	return ls, nil
}
