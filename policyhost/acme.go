package policyhost

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"go.uber.org/zap"
)

// acmeManager obtains and renews certificates for the policy hosts from an
// ACME CA (RFC 8555) through certmagic. Only the names given to manage are
// ever requested: there is no on-demand issuance, so a client sending some
// other SNI cannot make the server ask the CA for anything.
type acmeManager struct {
	cache  *certmagic.Cache
	magic  *certmagic.Config
	issuer *certmagic.ACMEIssuer

	mu      sync.Mutex
	managed map[string]bool
}

// acmeRoots returns the roots of c.CAFile, to trust when talking to the
// CA, or nil for the system's when it is not set.
func acmeRoots(c ACMEConfig) (*x509.CertPool, error) {
	if c.CAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("acme ca_file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("acme ca_file %s: no PEM certificate", c.CAFile)
	}
	return roots, nil
}

// newACMEManager sets certmagic up with storage under dataDir/acme. The
// challenges are answered by the server's own listeners: HTTP-01 by the
// handler of httpAddr (nil disables HTTP-01) and TLS-ALPN-01 by the
// certificate callback of the HTTPS listener at tlsAddr. certmagic is told
// their ports so that it does not try to listen itself. With c.DNS01,
// DNS-01 is answered alone, by updates on the primary server of u.
func newACMEManager(c ACMEConfig, u DNSUpdateConfig, dataDir string, logger *slog.Logger, httpAddr, tlsAddr net.Addr) (*acmeManager, error) {
	roots, err := acmeRoots(c)
	if err != nil {
		return nil, err
	}
	zl := newZapLogger(logger.With("component", "acme"))
	a := &acmeManager{managed: map[string]bool{}}
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return a.magic, nil },
		Logger:           zl,
	})
	a.magic = certmagic.New(a.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: filepath.Join(dataDir, "acme")},
		Logger:  zl,
	})
	tmpl := certmagic.ACMEIssuer{
		CA:                      c.DirectoryURL,
		Email:                   c.Email,
		Agreed:                  c.AgreeTOS,
		DisableHTTPChallenge:    c.DisableHTTP01 || httpAddr == nil,
		DisableTLSALPNChallenge: c.DisableTLSALPN01,
		TrustedRoots:            roots,
		Logger:                  zl,
	}
	if host, port, ok := splitTCPAddr(tlsAddr); ok {
		tmpl.ListenHost, tmpl.AltTLSALPNPort = host, port
	}
	if _, port, ok := splitTCPAddr(httpAddr); ok {
		tmpl.AltHTTPPort = port
	}
	if c.DNS01 {
		tmpl.DNS01Solver = dns01Solver(u, c.DNS01Delay, zl)
	}
	a.issuer = certmagic.NewACMEIssuer(a.magic, tmpl)
	a.magic.Issuers = []certmagic.Issuer{a.issuer}
	return a, nil
}

// dns01Solver returns certmagic's DNS-01 solver (RFC 8555 §8.4) adding
// the challenge records by RFC 2136 update on the primary server of u,
// waiting delay once a record is there. certmagic then uses no other
// challenge type.
func dns01Solver(u DNSUpdateConfig, delay time.Duration, zl *zap.Logger) *certmagic.DNS01Solver {
	return &certmagic.DNS01Solver{DNSManager: certmagic.DNSManager{
		DNSProvider: &dns01Provider{primary: newPrimary(u)},
		TTL:         min(time.Duration(u.TTL)*time.Second, dns01TTL),
		// The zone of _acme-challenge.mta-sts.<domain> is found, and the
		// record is then awaited, on the update server, not through the
		// system resolver: that server is the primary of the zone, where
		// an accepted update shows at once, while a recursive resolver
		// may hold a cached NXDOMAIN for the name (RFC 2308) or not know
		// an internal zone at all. For a single authoritative server this
		// check is exact. Secondaries get the change by NOTIFY and IXFR
		// (RFC 1996, RFC 1995), usually within seconds; a CA that asked
		// one still behind fails the order, which certmagic retries;
		// PropagationDelay gives slow secondaries time first.
		Resolvers:        []string{u.Server},
		PropagationDelay: delay,
		Logger:           zl,
	}}
}

func splitTCPAddr(a net.Addr) (host string, port int, ok bool) {
	ta, isTCP := a.(*net.TCPAddr)
	if !isTCP {
		return "", 0, false
	}
	if !ta.IP.IsUnspecified() {
		host = ta.IP.String()
	}
	return host, ta.Port, true
}

// manage makes names exactly the managed set: certificates are obtained
// (in the background) for new names and no longer renewed for removed
// ones.
func (a *acmeManager) manage(ctx context.Context, names []string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	want := map[string]bool{}
	var added []string
	for _, n := range names {
		want[n] = true
		if !a.managed[n] {
			added = append(added, n)
		}
	}
	var removed []certmagic.SubjectIssuer
	for n := range a.managed {
		if !want[n] {
			removed = append(removed, certmagic.SubjectIssuer{Subject: n})
		}
	}
	if len(removed) > 0 {
		a.cache.RemoveManaged(removed)
	}
	a.managed = want
	if len(added) == 0 {
		return nil
	}
	return a.magic.ManageAsync(ctx, added)
}

// getCertificate answers the TLS handshake for a managed name, including
// the TLS-ALPN-01 challenge handshake (RFC 8737).
func (a *acmeManager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return a.magic.GetCertificate(hello)
}

// isALPNChallenge reports whether hello is an ACME TLS-ALPN-01 validation
// (RFC 8737 §3: ALPN "acme-tls/1" alone).
func isALPNChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmez.ACMETLS1Protocol
}

// httpHandler answers HTTP-01 challenges (RFC 8555 §8.3) and passes other
// requests to next.
func (a *acmeManager) httpHandler(next http.Handler) http.Handler {
	return a.issuer.HTTPChallengeHandler(next)
}

// notAfter returns when the latest certificate for name expires.
func (a *acmeManager) notAfter(name string) (time.Time, bool) {
	var latest time.Time
	for _, c := range a.cache.AllMatchingCertificates(name) {
		if c.Leaf != nil && c.Leaf.NotAfter.After(latest) {
			latest = c.Leaf.NotAfter
		}
	}
	return latest, !latest.IsZero()
}

// stop ends certmagic's maintenance goroutine.
func (a *acmeManager) stop() { a.cache.Stop() }
