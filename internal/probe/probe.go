// Package probe connects to one MX host the way a sending MTA would and
// reports what it saw: the SMTP banner and EHLO extensions, whether
// STARTTLS is offered (RFC 3207), the negotiated TLS version and cipher
// suite, and the certificate chain judged against the rules of RFC 8461
// §4.2 — unexpired, chained to a trusted root, with a DNS-ID matching the
// MX host name (RFC 6125).
//
// The TLS handshake itself verifies nothing: the chain is checked by hand
// afterwards so that a probe of a misconfigured server still reports every
// fact (version, chain, expiry) alongside the reason it would fail. The
// probe sends no mail: after the handshake it says QUIT.
//
// Policy is left to the caller: a probe accepts TLS 1.0 and 1.1 so that
// old servers can be observed, although RFC 8461 §7.2 requires TLS 1.2 or
// newer. Result.ResultType names the outcome with the RFC 8460 §4.3
// result types used in TLS-RPT reports.
package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"time"
)

// Defaults for Options fields left zero.
const (
	DefaultTimeout = 30 * time.Second
	DefaultPort    = "25"
)

// quitWait bounds how long a probe waits for the reply to its QUIT, which
// is a courtesy and never changes the result.
const quitWait = 2 * time.Second

// Options configure a probe. The zero value probes port 25 over the
// system's network, verifies against the system roots and gives up after
// DefaultTimeout.
type Options struct {
	// Dial opens the TCP connection. Nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// RootCAs are the trusted roots for the chain check. Nil means the
	// system roots.
	RootCAs *x509.CertPool
	// Timeout bounds the whole probe, from dialling to QUIT. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// HeloName is the name sent with EHLO. Empty means an address literal
	// of the local end of the connection, such as "[192.0.2.7]" or
	// "[IPv6:2001:db8::7]": RFC 5321 §4.1.1.1 asks for the client's
	// primary host name or, when it has none, an address literal; a probe
	// from a workstation has no meaningful host name, and a made-up one
	// would fail a server's HELO checks for a worse reason.
	HeloName string
	// Now is the clock the certificates are checked against. Nil means
	// time.Now. Result.Duration is measured on the real clock regardless.
	Now func() time.Time
	// Port is the TCP port to connect to. Empty means DefaultPort.
	Port string
}

// Result is what a probe saw. Fields after the stage that failed (see
// Err) are left zero.
type Result struct {
	// Host is the MX host name probed, as given to Probe.
	Host string
	// Addr is the remote ip:port the probe actually connected to.
	Addr string

	// Banner is the text of the server's 220 greeting, multi-line
	// greetings joined by "\n".
	Banner string
	// EHLOName is the domain the server gave in the first line of its
	// EHLO reply.
	EHLOName string
	// Extensions are the EHLO keywords the server announced, upper-case,
	// in its order, without parameters ("PIPELINING", "SIZE", "STARTTLS").
	Extensions []string
	// STARTTLS reports whether the server announced STARTTLS.
	STARTTLS bool

	// TLSVersion and CipherSuite are what the TLS handshake negotiated
	// (crypto/tls constants), zero if there was no handshake.
	TLSVersion  uint16
	CipherSuite uint16
	// Chain is the certificate chain as the server presented it, leaf
	// first.
	Chain []*x509.Certificate

	// Verified reports whether the chain leads to a trusted root and every
	// certificate in it is valid at Options.Now. VerifyError says why not;
	// it wraps one of ErrCertExpired, ErrCertNotYetValid, ErrSelfSigned,
	// ErrUnknownAuthority or ErrCertInvalid.
	Verified    bool
	VerifyError error
	// NameMatch reports whether the leaf certificate has a DNS-ID matching
	// Host (RFC 6125 as crypto/x509 implements it: subjectAltName DNS
	// names only, a wildcard only as the whole left-most label, case and
	// a trailing dot ignored). NameError, wrapping ErrHostMismatch, says
	// why not. It is judged apart from Verified.
	NameMatch bool
	NameError error
	// NotAfter is the expiry of the leaf certificate.
	NotAfter time.Time

	// Duration is how long the probe took, QUIT included.
	Duration time.Duration
	// Err is the failure that stopped the probe, an *Error naming the
	// stage, or nil if the probe ran to its end. A server without
	// STARTTLS and a certificate that fails verification are findings,
	// not errors: Err is nil for them.
	Err error
}

// TLSVersionName is the name of the negotiated TLS version ("TLS 1.3"), or
// "" if there was no handshake.
func (r *Result) TLSVersionName() string {
	if r.TLSVersion == 0 {
		return ""
	}
	return tls.VersionName(r.TLSVersion)
}

// CipherSuiteName is the IANA name of the negotiated cipher suite, or ""
// if there was no handshake.
func (r *Result) CipherSuiteName() string {
	if r.TLSVersion == 0 {
		return ""
	}
	return tls.CipherSuiteName(r.CipherSuite)
}

// Probe connects to ip (or to host itself when ip is empty) on
// Options.Port, reads the banner, sends EHLO, and when STARTTLS is offered
// upgrades the connection and checks the server's certificate against
// host. It then says QUIT. It never returns nil; failures are reported in
// Result.Err.
func Probe(ctx context.Context, host, ip string, opts Options) *Result {
	opts = opts.withDefaults()
	start := time.Now()
	r := &Result{Host: host}
	p := &prober{opts: opts, result: r}
	p.run(ctx, host, ip)
	r.Duration = time.Since(start)
	return r
}

// withDefaults fills in the zero fields of o.
func (o Options) withDefaults() Options {
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Port == "" {
		o.Port = DefaultPort
	}
	return o
}

// prober carries one probe through its stages.
type prober struct {
	opts   Options
	result *Result
	ctx    context.Context // bounded by opts.Timeout
}

// run performs the probe, filling p.result.
func (p *prober) run(ctx context.Context, host, ip string) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	p.ctx = ctx
	r := p.result

	target := ip
	if target == "" {
		target = strings.TrimSuffix(host, ".")
	}
	if target == "" {
		// net.Dial would take ":25" for the local machine.
		p.fail(StageConnect, errors.New("no host name or address to probe"))
		return
	}
	conn, err := p.opts.Dial(ctx, "tcp", net.JoinHostPort(target, p.opts.Port))
	if err != nil {
		p.fail(StageConnect, err)
		return
	}
	defer conn.Close()
	if a := conn.RemoteAddr(); a != nil {
		r.Addr = a.String()
	}
	// One deadline for every read and write; cancellation of ctx moves it
	// into the past so that a blocked read returns at once.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	plain := newSMTPConn(conn)
	if r.Banner, err = plain.greeting(); err != nil {
		p.refused(plain, StageBanner, err)
		return
	}
	helo := p.opts.HeloName
	if helo == "" {
		helo = addressLiteral(conn.LocalAddr())
	}
	if r.EHLOName, r.Extensions, err = plain.ehlo(helo); err != nil {
		p.refused(plain, StageEHLO, err)
		return
	}
	r.STARTTLS = slices.Contains(r.Extensions, "STARTTLS")
	if !r.STARTTLS {
		p.quit(plain)
		return
	}
	if err := plain.startTLS(); err != nil {
		p.refused(plain, StageSTARTTLS, err)
		return
	}

	tlsConn := tls.Client(conn, p.tlsConfig(host))
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		p.fail(StageHandshake, err)
		return
	}
	state := tlsConn.ConnectionState()
	r.TLSVersion = state.Version
	r.CipherSuite = state.CipherSuite
	r.Chain = state.PeerCertificates
	p.checkChain(host)
	p.quit(newSMTPConn(tlsConn))
}

// tlsConfig is the client configuration of the handshake. It verifies
// nothing (checkChain does, afterwards) and offers every protocol version
// from TLS 1.0 and every cipher suite crypto/tls implements, insecure ones
// included: the probe observes what the server chooses and leaves the
// judgement to the caller.
func (p *prober) tlsConfig(host string) *tls.Config {
	var suites []uint16
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, s := range list {
			suites = append(suites, s.ID)
		}
	}
	return &tls.Config{
		// SNI, as RFC 7672 §8.1 asks of SMTP clients, so that a server
		// hosting several names presents the certificate for this one.
		ServerName:         strings.TrimSuffix(host, "."),
		InsecureSkipVerify: true, // checked by checkChain, which keeps the facts
		MinVersion:         tls.VersionTLS10,
		CipherSuites:       suites,
	}
}

// quit says QUIT on c and waits briefly for the reply, ignoring failures:
// the probe is over whatever the server answers.
func (p *prober) quit(c *smtpConn) {
	if p.ctx.Err() != nil {
		return
	}
	if d := time.Now().Add(quitWait); !deadlineBefore(p.ctx, d) {
		c.conn.SetDeadline(d)
	}
	c.quit()
}

// refused records err as the failure of stage and, when err is the
// server's SMTP reply (the dialogue itself is intact), says QUIT as RFC
// 5321 §3.1 expects of a client that is turned away.
func (p *prober) refused(c *smtpConn, stage Stage, err error) {
	p.fail(stage, err)
	var reply *textproto.Error
	if errors.As(err, &reply) {
		p.quit(c)
	}
}

// deadlineBefore reports whether ctx ends before t.
func deadlineBefore(ctx context.Context, t time.Time) bool {
	d, ok := ctx.Deadline()
	return ok && d.Before(t)
}

// fail records err as the failure of stage. When the probe's context has
// ended, its cause is joined in so that errors.Is(err,
// context.DeadlineExceeded) holds for a timeout.
func (p *prober) fail(stage Stage, err error) {
	cause := context.Cause(p.ctx)
	if cause == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// The connection's deadline is the context's, whose own timer
		// may not have fired yet.
		cause = context.DeadlineExceeded
	}
	if cause != nil && !errors.Is(err, cause) {
		err = fmt.Errorf("%w: %w", cause, err)
	}
	p.result.Err = &Error{Stage: stage, Err: err}
}

// addressLiteral is the RFC 5321 §4.1.3 address literal of a, or
// "localhost" when a is not an IP address.
func addressLiteral(a net.Addr) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return "localhost"
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		return "[IPv6:" + ip.WithZone("").String() + "]"
	}
	return "[" + ip.String() + "]"
}
