package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mtasts/mtasts/internal/connlimit"
	"github.com/mtasts/mtasts/reportstore"
)

// SMTPOptions configure NewSMTPServer.
type SMTPOptions struct {
	// Domain is the host name the server greets with.
	Domain string
	// LMTP serves LMTP (RFC 2033) instead of SMTP, for a local MTA to
	// deliver to.
	LMTP bool
	// Recipients, if not empty, are the only addresses accepted
	// (case-insensitive); others get 550. Empty accepts any recipient.
	Recipients []string
	// TLSConfig, if not nil, offers STARTTLS (RFC 3207).
	TLSConfig *tls.Config
	// MaxMessageBytes caps a mail; 0 means twice Config.MaxSize plus
	// 64 KiB, the most tlsrpt.ParseMessage reads.
	MaxMessageBytes int64
	// Timeout bounds each read and write; 0 means DefaultSMTPTimeout.
	Timeout time.Duration
	// SessionTimeout bounds a connection, however busy; 0 means
	// DefaultSMTPSessionTimeout.
	SessionTimeout time.Duration
	// MaxConns bounds the connections open at once, MaxConnsPerClient
	// those of one client (an IPv6 client by its /64); a connection
	// beyond them is answered 421 and closed. 0 means
	// DefaultSMTPMaxConns and DefaultSMTPMaxConnsPerClient.
	MaxConns, MaxConnsPerClient int
}

// SMTPServer is the report mail server of NewSMTPServer: go-smtp's, on
// listeners that bound its connections.
type SMTPServer struct {
	*smtp.Server
	conns *connLimiter
}

// Serve accepts connections on l, within the bounds of SMTPOptions,
// until Shutdown or Close.
func (s *SMTPServer) Serve(l net.Listener) error {
	return s.Server.Serve(&limitedListener{Listener: l, cl: s.conns})
}

// NewSMTPServer returns an SMTP (or LMTP) server that accepts report mail
// (RFC 8460 §5.3) and stores it through in. A mail is answered 250 once
// its report, or the mail in quarantine, is committed; 451 when the store
// failed, so that the sending MTA tries again. Start it with Serve on a
// listener, stop it with Shutdown or Close.
func (in *Ingester) NewSMTPServer(o SMTPOptions) *SMTPServer {
	orDefault(&o.MaxMessageBytes, in.maxMail())
	orDefault(&o.Timeout, DefaultSMTPTimeout)
	orDefault(&o.SessionTimeout, DefaultSMTPSessionTimeout)
	orDefault(&o.MaxConns, DefaultSMTPMaxConns)
	orDefault(&o.MaxConnsPerClient, DefaultSMTPMaxConnsPerClient)
	allowed := map[string]bool{}
	for _, r := range o.Recipients {
		allowed[strings.ToLower(r)] = true
	}
	s := smtp.NewServer(&smtpBackend{in: in, allowed: allowed, max: o.MaxMessageBytes})
	s.Domain = o.Domain
	s.LMTP = o.LMTP
	s.TLSConfig = o.TLSConfig
	s.MaxMessageBytes = o.MaxMessageBytes
	s.MaxRecipients = 50
	s.ReadTimeout, s.WriteTimeout = o.Timeout, o.Timeout
	s.EnableSMTPUTF8 = true
	logs := &logThrottle{interval: time.Minute}
	conns := &connLimiter{count: connlimit.New[string](o.MaxConns, o.MaxConnsPerClient), session: o.SessionTimeout,
		refused: func(limit string, c client) {
			in.cfg.Metrics.refuseSMTP(limit)
			if ok, more := logs.allow(limit, in.cfg.Now()); ok {
				in.log.Warn("report mail connection refused by a limit", "limit", limit, "client", c.String(), "refused_since_last_log", more)
			}
		}}
	return &SMTPServer{Server: s, conns: conns}
}

type smtpBackend struct {
	in      *Ingester
	allowed map[string]bool
	max     int64
}

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{b: b, remote: c.Conn().RemoteAddr().String(), helo: c.Hostname()}, nil
}

// smtpSession receives the mails of one connection.
type smtpSession struct {
	b            *smtpBackend
	remote, helo string
	from         string
	rcpts        int
}

func (s *smtpSession) Reset() { s.from, s.rcpts = "", 0 }

func (s *smtpSession) Logout() error { return nil }

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if len(s.b.allowed) > 0 && !s.b.allowed[strings.ToLower(to)] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such TLS report mailbox"}
	}
	s.rcpts++
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := readLimited(r, s.b.max)
	if err != nil {
		var tooBig *smtp.SMTPError
		if errors.As(err, &tooBig) {
			return err
		}
		if _, drainErr := io.Copy(io.Discard, r); drainErr != nil {
			return drainErr
		}
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "message too large for a TLS report"}
	}
	origin := fmt.Sprintf("smtp from %s (%s) mail from <%s>", s.remote, s.helo, s.from)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.b.in.Ingest(ctx, Input{Data: data, Kind: KindMail, Source: reportstore.SourceSMTP, Origin: origin}); err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "report not stored, try again later"}
	}
	return nil
}
