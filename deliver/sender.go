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
	// Opportunistic sends without looking up or applying the recipient
	// domain's MTA-STS policy: STARTTLS when offered, any certificate
	// accepted, plaintext otherwise, and Resolver may be nil. It is for
	// mail that must reach a domain whatever its TLS, as a message with
	// TLS-Required: No (RFC 8689 §5) asks, such as a TLS report (RFC 8460
	// §5.3): the report may be about that very TLS being broken, and
	// holding it back under the domain's policy would hide the problem
	// from the one who can fix it. Attempts carry no ResultType.
	Opportunistic bool
	// Shuffle permutes the MX hosts of equal preference, which RFC 5321
	// §5.1 asks to try in random order, as rand.Shuffle does; nil means
	// math/rand/v2's rand.Shuffle. Tests set it for a known order. It must
	// be safe for concurrent use if Send is.
	Shuffle func(n int, swap func(i, j int))
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
// recipient: those are in Result.Accepted, the ones it refused in
// Result.Rejected. Otherwise it wraps ErrTemporary or ErrPermanent (and a
// *ReplyError when a server refused the message). A 5yz reply to MAIL,
// RCPT (for every recipient) or DATA is permanent; any other failure of
// an MX host moves on to the next one (RFC 5321 §5.1).
func (s *Sender) Send(ctx context.Context, from string, to []string, msg []byte) (*Result, error) {
	domain, err := recipientDomain(to)
	if err != nil {
		return nil, err
	}
	res := &Result{Domain: domain}
	if s.Opportunistic {
		return s.sendTo(ctx, modeOpportunistic, resolver.Decision{Domain: domain}, from, to, msg, res)
	}
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
	return s.sendTo(ctx, m, d, from, to, msg, res)
}

// sendTo walks the MX hosts of res.Domain under the decision d, taken in
// mode m, and fills in res.
func (s *Sender) sendTo(ctx context.Context, m mode, d resolver.Decision, from string, to []string, msg []byte, res *Result) (*Result, error) {
	domain := res.Domain
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
		accepted, rejected := s.attempt(ctx, m, from, to, msg, &a)
		res.Attempts = append(res.Attempts, a)
		if accepted != nil || rejected != nil {
			// The last session that reached RCPT TO says why
			// recipients were refused.
			res.Rejected = rejected
		}
		if a.Outcome == OutcomeDelivered {
			res.Accepted = accepted
			return res, nil
		}
		last = a.Err
		if finalReply(a.Err) {
			// A 5yz to the mail transaction is the destination's final
			// word (RFC 5321 §4.2.1); another MX would say the same.
			return res, failure(true, a.Err)
		}
		if err := ended(ctx); err != nil {
			// The caller gave up: the other MX hosts are not tried.
			return res, failure(false, fmt.Errorf("delivery to %s interrupted: %w (last: %w)", domain, err, last))
		}
		// RFC 5321 §5.1: a temporary failure (4yz, no connection, no
		// greeting, a timeout, a TLS failure) moves on to the next MX.
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

// quitTimeout bounds the wait for the reply to QUIT once the message is
// delivered.
const quitTimeout = 5 * time.Second

// attempt tries to deliver on host a.Host and fills in a. A session that
// reaches RCPT TO returns the recipients the server accepted and those it
// refused, each refusal wrapping ErrTemporary or ErrPermanent and its
// *ReplyError; the message was delivered to the accepted ones only if
// a.Outcome is OutcomeDelivered.
func (s *Sender) attempt(ctx context.Context, m mode, from string, to []string, msg []byte, a *Attempt) (accepted []string, rejected map[string]error) {
	timeout := cmp.Or(s.Timeout, DefaultTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fail := func(o Outcome, rt tlsrpt.ResultType, err error) {
		var re *ReplyError
		switch {
		case o == OutcomeConnectFailed && errors.As(err, &re):
			o = OutcomeSMTPError
		case o == OutcomeConnectFailed && isTimeout(err):
			o = OutcomeTimeout
		}
		a.Outcome, a.Err = o, err
		if rt != "" && m != modeOpportunistic {
			a.ResultType = rt
		}
	}
	dial := s.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, "tcp", net.JoinHostPort(a.Host, cmp.Or(s.Port, "25")))
	if err != nil {
		fail(OutcomeConnectFailed, "", err)
		return nil, nil
	}
	defer conn.Close()
	a.Addr = conn.RemoteAddr().String()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	helo := s.HeloName
	if helo == "" {
		helo = addressLiteral(conn)
	}
	sess := newSession(a.Host, conn)
	if _, err := sess.reply("greeting", 220); err != nil {
		fail(OutcomeConnectFailed, "", err)
		return nil, nil
	}
	ext, err := sess.ehlo(helo)
	if err != nil {
		fail(OutcomeConnectFailed, "", err)
		return nil, nil
	}
	if sess, err = s.startTLS(ctx, m, sess, ext, a); err != nil {
		var tf *tlsFailure
		if errors.As(err, &tf) {
			fail(OutcomeTLSFailed, tf.ResultType, err)
		} else {
			fail(OutcomeConnectFailed, "", err)
		}
		return nil, nil
	}
	if a.TLS {
		// RFC 3207 §4.2: forget what was learnt before TLS; greet again.
		if _, err := sess.ehlo(helo); err != nil {
			fail(OutcomeConnectFailed, "", err)
			return nil, nil
		}
	}

	if _, err := sess.cmd(250, "MAIL FROM:<"+from+">"); err != nil {
		fail(OutcomeConnectFailed, "", err)
		return nil, nil
	}
	// RFC 5321 §3.3: each recipient is accepted or refused on its own;
	// the message goes to the accepted ones.
	var refusal error // the attempt's error if all are refused
	for _, rcpt := range to {
		_, err := sess.cmd(25, "RCPT TO:<"+rcpt+">")
		var re *ReplyError
		switch {
		case err == nil:
			accepted = append(accepted, rcpt)
			continue
		case !errors.As(err, &re):
			fail(OutcomeConnectFailed, "", err)
			return nil, nil
		}
		if rejected == nil {
			rejected = map[string]error{}
		}
		rejected[rcpt] = failure(re.Permanent(), err)
		// A temporary refusal outweighs a permanent one: another MX (or
		// a later try) may take the message for that recipient.
		if refusal == nil || !re.Permanent() && finalReply(refusal) {
			refusal = err
		}
	}
	if len(accepted) == 0 {
		fail(OutcomeSMTPError, "", refusal)
		return accepted, rejected
	}
	if err := sess.data(msg); err != nil {
		fail(OutcomeConnectFailed, "", err)
		return accepted, rejected
	}
	a.Outcome = OutcomeDelivered
	// The message is delivered; QUIT is a courtesy not worth a long wait.
	if quit := time.Now().Add(quitTimeout); quit.Before(deadline) {
		conn.SetDeadline(quit)
	}
	sess.cmd(221, "QUIT")
	return accepted, rejected
}

// finalReply reports whether err is a 5yz reply to the mail transaction
// (MAIL, RCPT or DATA), the destination's final word on the message (RFC
// 5321 §4.2.1). A 5yz greeting (RFC 5321 §3.1) or reply to EHLO or
// STARTTLS is about the host, and the next MX host is tried, as Postfix
// does by default (smtp_skip_5xx_greeting).
func finalReply(err error) bool {
	var re *ReplyError
	if !errors.As(err, &re) || !re.Permanent() {
		return false
	}
	switch re.Command {
	case "MAIL", "RCPT", "DATA":
		return true
	}
	return false
}

// ended returns why ctx is over, or nil if it is not: its error, or
// context.DeadlineExceeded as soon as its deadline has passed, since the
// connection's deadline, set to the same time, may fire before the
// context's own timer.
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// isTimeout reports whether err is a timeout: of a read or write on the
// connection or of the attempt's context.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
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
	} else {
		// Without a policy to enforce, old TLS beats plaintext; under
		// testing checkTLS records the failure (RFC 8461 §5, §7.2).
		cfg.MinVersion = tls.VersionTLS10
	}
	tc := tls.Client(sess.conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		if seen != nil {
			return nil, seen
		}
		if isTimeout(err) {
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		return nil, &tlsFailure{tlsrpt.ResultValidationFailure, fmt.Errorf("TLS handshake: %w", err)}
	}
	a.TLS, a.TLSVersion = true, tc.ConnectionState().Version
	if seen != nil {
		a.ResultType = cmp.Or(a.ResultType, seen.ResultType)
	}
	return newSession(a.Host, tc), nil
}
