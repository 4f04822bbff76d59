package policyhost

import (
	"crypto/tls"
	"log/slog"
	"sync"
	"time"
)

// This file gives other TLS services of the host, such as an SMTP listener
// for report mail, their certificate: one the Server holds for a policy
// host, or one from files. Either way the certificate is for one fixed
// name whatever the client asks for, since SMTP clients often send no SNI.
// The expiry of a certificate from files is checked with the policy
// hosts' once given to WatchCertificate.

// CertificateFor returns a tls.Config.GetCertificate function that
// answers every handshake with the certificate the server uses for name
// on HTTPS, from its files or from ACME, as it is at the time of the
// handshake. ok is false when name is not a policy host the server serves
// now.
func (s *Server) CertificateFor(name string) (get func(*tls.ClientHelloInfo) (*tls.Certificate, error), ok bool) {
	name = requestHost(name)
	if name == "" || s.handler.domainOf(name) == "" {
		return nil, false
	}
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		h := *hello
		h.ServerName = name
		h.SupportedProtos = nil // never an ACME TLS-ALPN-01 challenge
		return s.getCertificate(&h)
	}, true
}

// CertFile is the certificate of one host name from a PEM certificate
// chain file and a key file, checked for changes at each handshake and
// reloaded when they change. A version that fails to load is logged and
// the previous one kept. It is safe for concurrent use.
type CertFile struct {
	host string
	log  *slog.Logger

	mu      sync.Mutex
	cur     *fileCert
	lastErr string // the reload error last logged, to log each once
}

// LoadCertFile loads the certificate for host from certFile and keyFile;
// it must be valid for host. logger receives reload problems; nil
// discards them.
func LoadCertFile(host, certFile, keyFile string, logger *slog.Logger) (*CertFile, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	fc, err := loadFileCert(host, certFile, keyFile, nil)
	if err != nil {
		return nil, err
	}
	return &CertFile{host: host, log: logger, cur: fc}, nil
}

// GetCertificate returns the certificate, reloaded first if its files
// changed. It suits tls.Config.GetCertificate.
func (c *CertFile) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.current().cert, nil
}

// NotAfter returns when the certificate expires, reloaded first if its
// files changed.
func (c *CertFile) NotAfter() time.Time { return c.current().notAfter() }

// current returns the certificate, reloaded first if its files changed.
func (c *CertFile) current() *fileCert {
	c.mu.Lock()
	defer c.mu.Unlock()
	fc, err := loadFileCert(c.host, c.cur.certFile, c.cur.keyFile, c.cur)
	if err != nil {
		if msg := err.Error(); msg != c.lastErr {
			c.lastErr = msg
			c.log.Error("certificate files changed but cannot be loaded; still using the previous version",
				"host", c.host, "error", err)
		}
		return c.cur
	}
	c.lastErr = ""
	if fc != c.cur {
		c.log.Info("certificate reloaded", "host", c.host, "cert_file", fc.certFile, "not_after", fc.notAfter())
		c.cur = fc
	}
	return fc
}

// watchedCert is a certificate of another service whose expiry the
// Server checks with that of the policy hosts.
type watchedCert struct {
	service string
	cf      *CertFile
}

// WatchCertificate adds cf, the certificate of another TLS service of
// the host such as "smtp", to the certificates whose expiry the server
// exports and warns about (Config.ExpiryWarning ahead, at every
// Config.CertCheck). Its files are checked for changes then too. In the
// metric it has service and its host name, and no domain.
func (s *Server) WatchCertificate(service string, cf *CertFile) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.watched = append(s.watched, watchedCert{service, cf})
	s.checkExpiry()
}
