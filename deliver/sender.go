package deliver

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
)

// DefaultTimeout bounds one attempt on one MX host when Sender.Timeout is
// zero.
const DefaultTimeout = 2 * time.Minute

// Sender delivers mail directly to the recipient domain's MX hosts. Resolver
// and DNS are required; the other fields have defaults. A Sender is safe for
// concurrent use.
type Sender struct {
	// Resolver decides the MTA-STS policy of the recipient domain.
	Resolver *resolver.Resolver
	// DNS looks up MX records (and tells a null MX, RFC 7505, and a
	// temporary failure from the absence of records).
	DNS *dnsx.Client
	// Dial opens TCP connections to "host:port"; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// RootCAs are the trusted roots for MX certificates; nil means the
	// system's.
	RootCAs *x509.CertPool
	// HeloName is the name sent with EHLO; empty means an address literal
	// of the local end of each connection (RFC 5321 §4.1.1.1).
	HeloName string
	// Timeout bounds each attempt, from dialling to the reply to DATA;
	// zero means DefaultTimeout.
	Timeout time.Duration
	// Now is the clock certificates are checked against; nil means
	// time.Now.
	Now func() time.Time
	// Port is the SMTP port; empty means "25".
	Port string
}

// mode is how strictly TLS is judged on one delivery.
type mode int

const (
	modeOpportunistic mode = iota // none, no-policy: STARTTLS if offered
	modeTesting                   // RFC 8461 §5 testing: record, deliver anyway
	modeEnforce                   // RFC 8461 §5 enforce: validated TLS or nothing
)

// Send delivers msg (a complete RFC 5322 message, lines ending in CRLF)
// from the envelope sender from to the recipients to, which must all be in
// one domain. It returns the Result in every case but invalid arguments.
//
// The error is nil when a server accepted the message for at least one
// recipient; recipients it refused are in Result.Rejected. Otherwise it
// wraps ErrTemporary or ErrPermanent (and a *ReplyError when a server
// refused the message).
func (s *Sender) Send(ctx context.Context, from string, to []string, msg []byte) (*Result, error) {
	domain, err := recipientDomain(to)
	if err != nil {
		return nil, err
	}
	res := &Result{Domain: domain}
	d, err := s.Resolver.Decide(ctx, domain)
	res.Decision = d
	if err != nil {
		return res, failure(false, fmt.Errorf("MTA-STS policy of %s: %w", domain, err))
	}
	var m mode
	switch d.Kind {
	case resolver.Tempfail:
		// The policy cannot be known now: defer without connecting.
		return res, failure(false, fmt.Errorf("MTA-STS policy of %s unknown: %s", domain, d.Reason))
	case resolver.DANE:
		return res, failure(false, ErrDANE)
	case resolver.Enforce:
		m = modeEnforce
	case resolver.Testing:
		m = modeTesting
	}

	hosts, implicit, err := s.lookupMX(ctx, domain)
	res.ImplicitMX = implicit
	if err != nil {
		return res, err
	}
	var last error
	for _, host := range hosts {
		a := Attempt{Host: host}
		// RFC 8461 §4.1: an MX host matching no pattern fails validation;
		// under enforce it is not contacted (§5), under testing it is,
		// and the failure is reported. RFC 8460 has no result type of its
		// own for it; validation-failure is its catch-all (§4.3.3).
		inPolicy := slices.ContainsFunc(d.MX, func(p string) bool { return sts.MatchPattern(p, host) })
		switch {
		case m == modeEnforce && !inPolicy:
			a.Outcome, a.ResultType = OutcomeSkipped, tlsrpt.ResultValidationFailure
			a.Err = fmt.Errorf("MX host %s matches no mx pattern of the policy of %s (RFC 8461 §4.1)", host, domain)
			res.Attempts = append(res.Attempts, a)
			last = a.Err
			continue
		case m == modeTesting && !inPolicy:
			a.ResultType = tlsrpt.ResultValidationFailure
		}
		rejected := s.attempt(ctx, m, from, to, msg, &a)
		res.Attempts = append(res.Attempts, a)
		if a.Outcome == OutcomeDelivered {
			res.Rejected = rejected
			return res, nil
		}
		last = a.Err
		var re *ReplyError
		if a.Outcome == OutcomeSMTPError && errors.As(a.Err, &re) && re.Permanent() && re.Command != "EHLO" {
			// A 5yz to the mail transaction is the destination's final
			// word (RFC 5321 §4.2.1); another MX would say the same.
			return res, failure(true, a.Err)
		}
	}
	if last == nil {
		last = errors.New("no MX host to try")
	}
	// RFC 8461 §5: under enforce, failing every MX host is temporary.
	return res, failure(false, fmt.Errorf("no MX host of %s took the message: %w", domain, last))
}

// recipientDomain returns the normalized domain shared by all of to.
func recipientDomain(to []string) (string, error) {
	if len(to) == 0 {
		return "", errors.New("deliver: no recipients")
	}
	var domain string
	for _, rcpt := range to {
		i := strings.LastIndexByte(rcpt, '@')
		if i < 0 || strings.ContainsAny(rcpt, "\r\n<>") {
			return "", fmt.Errorf("deliver: invalid recipient %q", rcpt)
		}
		d, err := sts.NormalizeDomain(rcpt[i+1:])
		if err != nil {
			return "", fmt.Errorf("deliver: recipient %q: %w", rcpt, err)
		}
		if domain != "" && d != domain {
			return "", fmt.Errorf("deliver: recipients in two domains, %s and %s", domain, d)
		}
		domain = d
	}
	return domain, nil
}

// lookupMX returns the MX host names of domain in preference order,
// without trailing dots. A domain without MX records is its own implicit
// MX (RFC 5321 §5.1); a null MX (RFC 7505 §3) and a domain that does not
// exist are permanent failures, a DNS failure a temporary one.
func (s *Sender) lookupMX(ctx context.Context, domain string) (hosts []string, implicit bool, err error) {
	mxs, _, err := s.DNS.MX(ctx, domain)
	switch {
	case errors.Is(err, dnsx.ErrNXDomain):
		return nil, false, failure(true, fmt.Errorf("domain %s does not exist: %w", domain, err))
	case errors.Is(err, dnsx.ErrNoData):
		return []string{domain}, true, nil
	case err != nil:
		return nil, false, failure(false, fmt.Errorf("MX lookup for %s: %w", domain, err))
	}
	for _, mx := range mxs {
		if h := strings.TrimSuffix(mx.Host, "."); h != "" {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return nil, false, failure(true, fmt.Errorf("domain %s accepts no mail (null MX, RFC 7505)", domain))
	}
	return hosts, false, nil
}

// attempt tries to deliver on host a.Host and fills in a. It returns the
// recipients the server refused when it took the message for others.
func (s *Sender) attempt(ctx context.Context, m mode, from string, to []string, msg []byte, a *Attempt) map[string]error {
	timeout := cmp.Or(s.Timeout, DefaultTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := s.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, "tcp", net.JoinHostPort(a.Host, cmp.Or(s.Port, "25")))
	if err != nil {
		a.Outcome, a.Err = OutcomeConnectFailed, err
		return nil
	}
	defer conn.Close()
	a.Addr = conn.RemoteAddr().String()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	fail := func(o Outcome, rt tlsrpt.ResultType, err error) map[string]error {
		var re *ReplyError
		if o == OutcomeConnectFailed && errors.As(err, &re) {
			o = OutcomeSMTPError
		}
		a.Outcome, a.Err = o, err
		if rt != "" && m != modeOpportunistic {
			a.ResultType = rt
		}
		return nil
	}
	helo := s.HeloName
	if helo == "" {
		helo = addressLiteral(conn)
	}
	sess := newSession(a.Host, conn)
	if _, err := sess.reply("greeting", 220); err != nil {
		return fail(OutcomeConnectFailed, "", err)
	}
	ext, err := sess.ehlo(helo)
	if err != nil {
		return fail(OutcomeConnectFailed, "", err)
	}
	if sess, err = s.startTLS(ctx, m, sess, ext, a); err != nil {
		var tf *tlsFailure
		if errors.As(err, &tf) {
			return fail(OutcomeTLSFailed, tf.ResultType, err)
		}
		return fail(OutcomeConnectFailed, "", err)
	}
	if a.TLS {
		// RFC 3207 §4.2: forget what was learnt before TLS; greet again.
		if _, err := sess.ehlo(helo); err != nil {
			return fail(OutcomeConnectFailed, "", err)
		}
	}

	if _, err := sess.cmd(250, "MAIL FROM:<"+from+">"); err != nil {
		return fail(OutcomeConnectFailed, "", err)
	}
	rejected := map[string]error{}
	for _, rcpt := range to {
		if _, err := sess.cmd(25, "RCPT TO:<"+rcpt+">"); err != nil {
			var re *ReplyError
			if !errors.As(err, &re) {
				return fail(OutcomeConnectFailed, "", err)
			}
			rejected[rcpt] = err
		}
	}
	if len(rejected) == len(to) {
		// All refused: report the first refusal.
		return fail(OutcomeSMTPError, "", rejected[to[0]])
	}
	if err := sess.data(msg); err != nil {
		return fail(OutcomeConnectFailed, "", err)
	}
	a.Outcome = OutcomeDelivered
	sess.cmd(221, "QUIT")
	if len(rejected) == 0 {
		return nil
	}
	return rejected
}

// startTLS upgrades sess as mode m requires (RFC 8461 §4.2, §5) and returns
// the session to go on with: over TLS, or the same one in plaintext when
// the policy allows. Failures that the policy does not allow are a
// *tlsFailure; under testing the failure is recorded in a.ResultType and
// delivery goes on.
func (s *Sender) startTLS(ctx context.Context, m mode, sess *session, ext map[string]bool, a *Attempt) (*session, error) {
	record := func(f *tlsFailure) (*session, error) {
		if m == modeEnforce {
			return nil, f
		}
		if m == modeTesting && a.ResultType == "" {
			a.ResultType = f.ResultType
		}
		return sess, nil
	}
	if !ext["STARTTLS"] {
		return record(&tlsFailure{tlsrpt.ResultSTARTTLSNotSupported, errors.New("STARTTLS not offered (RFC 3207)")})
	}
	if _, err := sess.cmd(220, "STARTTLS"); err != nil {
		var re *ReplyError
		if !errors.As(err, &re) {
			return nil, err
		}
		return record(&tlsFailure{tlsrpt.ResultSTARTTLSNotSupported, err})
	}
	if sess.br.Buffered() > 0 {
		// Bytes sent before our TLS hello would be taken as if they came
		// over TLS by a careless client (CVE-2011-0411 class).
		return nil, &tlsFailure{tlsrpt.ResultValidationFailure, errors.New("server sent plaintext after its STARTTLS reply")}
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var seen *tlsFailure
	cfg := &tls.Config{
		ServerName: a.Host,
		// Verification is done by checkTLS, so that under testing a bad
		// certificate is recorded rather than fatal.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if m == modeOpportunistic {
				return nil
			}
			seen = checkTLS(cs, a.Host, s.RootCAs, now())
			if seen != nil && m == modeEnforce {
				return seen
			}
			return nil
		},
	}
	if m == modeEnforce {
		cfg.MinVersion = tls.VersionTLS12 // RFC 8461 §7.2
	}
	tc := tls.Client(sess.conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		if seen != nil {
			return nil, seen
		}
		return nil, &tlsFailure{tlsrpt.ResultValidationFailure, fmt.Errorf("TLS handshake: %w", err)}
	}
	a.TLS, a.TLSVersion = true, tc.ConnectionState().Version
	if seen != nil {
		a.ResultType = cmp.Or(a.ResultType, seen.ResultType)
	}
	return newSession(a.Host, tc), nil
}
