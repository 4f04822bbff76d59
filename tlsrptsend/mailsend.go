package tlsrptsend

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mtasts/mtasts/deliver"
)

// MailTransport sends a report mail (ComposeMail) for a mailto: rua (RFC
// 8460 §5.3). An error wrapping ErrRefused means the mail will never be
// taken (a 5yz reply); other errors are retried.
type MailTransport interface {
	SendMail(ctx context.Context, from string, to []string, msg []byte) error
}

// DirectMail delivers report mail to the MX hosts of the rua's domain
// with a deliver.Sender, which should be Opportunistic: a report about a
// domain whose TLS is broken must not be held back by that domain's
// MTA-STS policy (RFC 8460 §5.3, RFC 8689). Report mail so sent is not
// an outcome of the next report: it never passes through a Recorder.
type DirectMail struct {
	Sender *deliver.Sender
}

// SendMail delivers msg to the recipients to, grouped by domain.
func (d DirectMail) SendMail(ctx context.Context, from string, to []string, msg []byte) error {
	byDomain := map[string][]string{}
	var order []string
	for _, rcpt := range to {
		dom := strings.ToLower(rcpt[strings.LastIndexByte(rcpt, '@')+1:])
		if byDomain[dom] == nil {
			order = append(order, dom)
		}
		byDomain[dom] = append(byDomain[dom], rcpt)
	}
	var errs []error
	for _, dom := range order {
		_, err := d.Sender.Send(ctx, from, byDomain[dom], msg)
		switch {
		case errors.Is(err, deliver.ErrPermanent):
			errs = append(errs, fmt.Errorf("%w: %w", ErrRefused, err))
		case err != nil:
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Relay submits report mail to a relay host (RFC 6409 submission, or
// port 25 of a smart host) over STARTTLS, with authentication if
// Username is set. The relay must honour TLS-Required: No (RFC 8689 §5),
// or reports about domains with broken TLS stay in its queue.
type Relay struct {
	Addr     string // host:port
	Username string // AUTH PLAIN (RFC 4616) if not empty
	Password string
	// TLSConfig is the STARTTLS configuration; nil verifies the relay's
	// certificate for its host name against the system roots.
	TLSConfig *tls.Config
	// Insecure submits without STARTTLS, to a relay on the same host:
	// without it, a relay that does not offer STARTTLS is an error.
	Insecure bool
	// Dial opens the connection; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Timeout bounds a submission; one minute if zero.
	Timeout time.Duration
}

// SendMail submits msg from from to the recipients to.
func (r *Relay) SendMail(ctx context.Context, from string, to []string, msg []byte) error {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := r.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, "tcp", r.Addr)
	if err != nil {
		return fmt.Errorf("tlsrptsend: relay %s: %w", r.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var c *smtp.Client
	if r.Insecure {
		c = smtp.NewClient(conn)
	} else {
		cfg := r.TLSConfig
		if cfg == nil {
			host, _, _ := net.SplitHostPort(r.Addr)
			cfg = &tls.Config{ServerName: host}
		}
		if c, err = smtp.NewClientStartTLS(conn, cfg); err != nil {
			conn.Close()
			return r.fail(err)
		}
	}
	defer c.Close()
	if r.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", r.Username, r.Password)); err != nil {
			// Our credentials, not the report, are refused: the mail
			// is tried again, and the rua is not blamed.
			return fmt.Errorf("tlsrptsend: relay %s: AUTH as %s: %w", r.Addr, r.Username, err)
		}
	}
	if err := c.SendMail(from, to, bytes.NewReader(msg)); err != nil {
		return r.fail(err)
	}
	_ = c.Quit()
	return nil
}

// fail wraps a relay's error: a 5yz reply refuses the mail for good.
func (r *Relay) fail(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 && se.Code < 600 {
		return fmt.Errorf("%w: relay %s: %w", ErrRefused, r.Addr, err)
	}
	return fmt.Errorf("tlsrptsend: relay %s: %w", r.Addr, err)
}
