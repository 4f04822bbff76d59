package check

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/sts"
)

// Defaults of Options fields left zero.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultPerIPConnections = 4
	DefaultSlowFetch        = 5 * time.Second
	DefaultHostCacheSize    = 4096
)

// dnsBackoff is the wait before a DNS query that got no answer in time
// is sent again (see dnsx.Config.Backoff).
const dnsBackoff = 250 * time.Millisecond

// Certificate expiry thresholds (RFC 8461 §3.3, §4.2): a certificate that
// expires within expirySoon is a warning, within expiryNear an info.
const (
	expirySoon = 14 * 24 * time.Hour
	expiryNear = 30 * 24 * time.Hour
)

// Options configure a Checker. The zero value checks over the system's
// network, resolver and roots.
type Options struct {
	// Resolver is the DNS server to ask, "192.0.2.1", "192.0.2.1:5353" or
	// "[2001:db8::1]:53"; empty means the servers of /etc/resolv.conf.
	Resolver string
	// RootCAs are the trusted roots for the policy host and the MX hosts;
	// nil means the system's.
	RootCAs *x509.CertPool
	// Dial opens TCP connections to "ip:port" addresses; nil means a
	// net.Dialer. The checker resolves every name itself, with Resolver.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Timeout bounds each network operation: the policy fetch, one probe
	// of one MX address. Zero means DefaultTimeout. DNS queries have their
	// own, shorter, timeout and retries (see package dnsx).
	Timeout time.Duration
	// Now is the clock for certificate validity and for timings; nil
	// means time.Now.
	Now func() time.Time
	// NoMX skips the probes of port 25, for networks that block it.
	NoMX bool
	// IPv4Only and IPv6Only restrict the MX addresses probed to one
	// family. Without them IPv6 addresses are probed only when the
	// machine has an IPv6 route (checked when Dial is nil).
	IPv4Only, IPv6Only bool
	// PublicOnly refuses connections to private, loopback, link-local and
	// other non-public addresses, for services that check domains
	// submitted by strangers.
	PublicOnly bool
	// PerIPConnections bounds concurrent connections to one IP address;
	// zero means DefaultPerIPConnections.
	PerIPConnections int
	// SlowFetch is the fetch time above which the policy fetch is
	// reported as slow; zero means DefaultSlowFetch.
	SlowFetch time.Duration
	// HeloName is the name sent with EHLO; empty means an address literal
	// (see package probe).
	HeloName string
	// UserAgent is sent with the policy fetch.
	UserAgent string
	// HostCacheSize is how many MX host results a Checker keeps for other
	// domains with the same MX hosts; zero means DefaultHostCacheSize and
	// a negative value disables the cache.
	HostCacheSize int
}

// Checker checks domains. It is safe for concurrent use; results of MX
// hosts are shared between the domains it checks.
type Checker struct {
	opts  Options
	dns   *dnsx.Client
	dial  *dialer
	hosts *hostCache
	v6    func() bool // whether IPv6 addresses can be reached
}

// New returns a Checker for opts. It fails only if the DNS resolver cannot
// be set up (an invalid address, or no name server in /etc/resolv.conf).
func New(opts Options) (*Checker, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PerIPConnections <= 0 {
		opts.PerIPConnections = DefaultPerIPConnections
	}
	if opts.SlowFetch <= 0 {
		opts.SlowFetch = DefaultSlowFetch
	}
	if opts.HostCacheSize == 0 {
		opts.HostCacheSize = DefaultHostCacheSize
	}
	// A resolver that drops queries under load gets time to catch up
	// between the rounds of retries.
	cfg := dnsx.Config{Timeout: min(opts.Timeout, dnsx.DefaultTimeout), Backoff: dnsBackoff}
	if strings.TrimSpace(opts.Resolver) != "" {
		cfg.Servers = []string{opts.Resolver}
	}
	client, err := dnsx.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("check: DNS resolver: %w", err)
	}
	c := &Checker{opts: opts, dns: client, hosts: newHostCache(opts.HostCacheSize), v6: func() bool { return true }}
	base := opts.Dial
	if base == nil {
		base = (&net.Dialer{}).DialContext
		c.v6 = sync.OnceValue(hasIPv6Route)
	}
	c.dial = &dialer{base: base, publicOnly: opts.PublicOnly, limit: newIPLimiter(opts.PerIPConnections)}
	return c, nil
}

// hasIPv6Route reports whether the machine has a route to the IPv6
// internet. Connecting a UDP socket sends nothing.
func hasIPv6Route() bool {
	c, err := net.Dial("udp6", "[2001:db8::1]:25")
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Check checks one domain with a Checker made from opts; see
// Checker.Check.
func Check(ctx context.Context, domain string, opts Options) (*Result, error) {
	c, err := New(opts)
	if err != nil {
		return nil, err
	}
	return c.Check(ctx, domain)
}

// Check runs every check on domain (RFC 8461 §3 to §5 and §7.2, RFC 8460
// §3, RFC 7672 §2.2 and §3.1; see the package documentation) and returns
// the findings, sorted for reports, with the facts observed. The error is
// not nil only when the check could not run at all: domain is not a valid
// domain name (sts.ErrInvalidDomain) or ctx ended. Network failures are
// findings.
func (c *Checker) Check(ctx context.Context, domain string) (*Result, error) {
	d, err := sts.NormalizeDomain(domain)
	if err != nil {
		return nil, fmt.Errorf("check: domain %q: %w", domain, err)
	}
	r := &run{c: c, domain: d}
	var (
		rec    recordOutcome
		pol    policyOutcome
		mx     mxOutcome
		report tlsrptOutcome
		wg     sync.WaitGroup
	)
	wg.Go(func() { rec = r.checkRecord(ctx) })
	wg.Go(func() { pol = r.checkPolicyHost(ctx) })
	wg.Go(func() { mx = r.checkMX(ctx) })
	wg.Go(func() { report = r.checkTLSRPT(ctx) })
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("check: %s: %w", d, err)
	}
	return r.assemble(rec, pol, mx, report), nil
}

// run is the state of one Check.
type run struct {
	c      *Checker
	domain string
}

// now is the checker's clock.
func (r *run) now() time.Time { return r.c.opts.Now() }

// CheckResolver asks the DNS resolver one question (the name servers of
// the root) and reports an error if no answer comes at all: every server
// timed out or could not be reached. Any answer, an error rcode included,
// means the resolver is there.
func (c *Checker) CheckResolver(ctx context.Context) error {
	if err := c.dns.Ping(ctx); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	return nil
}
