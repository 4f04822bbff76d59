package testworld

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// SMTPOptions configures an ESMTP server started by World.SMTP.
type SMTPOptions struct {
	// NoSTARTTLS leaves STARTTLS out of the EHLO reply (RFC 3207).
	NoSTARTTLS bool
	// Cert is the certificate presented after STARTTLS; it defaults to one
	// issued by the world's CA for the host name.
	Cert *tls.Certificate
	// MinVersion and MaxVersion bound the TLS versions offered (tls.VersionTLS12
	// ...); zero means the crypto/tls defaults.
	MinVersion, MaxVersion uint16
	// CipherSuites, if set, are the only TLS 1.0–1.2 cipher suites the
	// server accepts (crypto/tls constants, insecure ones included).
	CipherSuites []uint16
	// Hostname is the name in the greeting and the EHLO reply; it defaults
	// to the host name.
	Hostname string
}

// Message is one message an SMTPServer accepted.
type Message struct {
	From string
	To   []string
	Data []byte
	// TLS describes the connection's TLS session; nil if the message came
	// over plaintext.
	TLS *tls.ConnectionState
}

// SMTPServer is an ESMTP server of one host of a World; it accepts every
// message and keeps it.
type SMTPServer struct {
	addr string

	mu       sync.Mutex
	messages []Message
}

// newSMTPServer serves ESMTP on l until t's cleanup.
func newSMTPServer(t testing.TB, l net.Listener, o SMTPOptions) *SMTPServer {
	var cfg *tls.Config
	if !o.NoSTARTTLS {
		if o.Cert == nil {
			t.Fatalf("testworld: SMTP server %s: STARTTLS needs a certificate", o.Hostname)
		}
		cfg = &tls.Config{
			Certificates: []tls.Certificate{*o.Cert},
			MinVersion:   o.MinVersion,
			MaxVersion:   o.MaxVersion,
			CipherSuites: o.CipherSuites,
		}
	}
	return serveSMTP(t, []net.Listener{l}, o.Hostname, cfg)
}

// serveSMTP serves ESMTP on every listener of ls until t's cleanup, as
// hostname, offering STARTTLS with cfg unless it is nil.
func serveSMTP(t testing.TB, ls []net.Listener, hostname string, cfg *tls.Config) *SMTPServer {
	s := &SMTPServer{addr: ls[0].Addr().String()}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{server: s, conn: c}, nil
	}))
	srv.Domain = hostname
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = newLogger(t, "smtp "+s.addr)
	srv.TLSConfig = cfg
	var served sync.WaitGroup
	for _, l := range ls {
		served.Go(func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				t.Errorf("testworld: SMTP server on %s: %v", l.Addr(), err)
			}
		})
	}
	t.Cleanup(func() {
		srv.Close()
		// A Serve that had not registered its listener yet when Close ran
		// would accept forever: closing the listeners ends it too.
		for _, l := range ls {
			l.Close()
		}
		served.Wait()
	})
	return s
}

// Messages returns the messages accepted so far, oldest first.
func (s *SMTPServer) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// Addr returns the real listener address, "ip:port".
func (s *SMTPServer) Addr() string { return s.addr }

// smtpSession is one SMTP transaction; it implements smtp.Session.
type smtpSession struct {
	server *SMTPServer
	conn   *smtp.Conn
	from   string
	to     []string
}

// Mail implements smtp.Session.
func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

// Rcpt implements smtp.Session.
func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

// Data implements smtp.Session: it stores the message.
func (ss *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("testworld: reading message data: %w", err)
	}
	m := Message{From: ss.from, To: ss.to, Data: data}
	if cs, ok := ss.conn.TLSConnectionState(); ok {
		m.TLS = &cs
	}
	ss.server.mu.Lock()
	ss.server.messages = append(ss.server.messages, m)
	ss.server.mu.Unlock()
	ss.Reset()
	return nil
}

// Reset implements smtp.Session.
func (ss *smtpSession) Reset() {
	ss.from, ss.to = "", nil
}

// Logout implements smtp.Session.
func (ss *smtpSession) Logout() error { return nil }
