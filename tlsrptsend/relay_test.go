package tlsrptsend

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// authRelay is a submission server on loopback that takes mail only
// from a client authenticated with AUTH PLAIN, which it offers only
// after STARTTLS (go-smtp's AllowInsecureAuth off).
type authRelay struct {
	mu        sync.Mutex
	attempts  []string // the user names tried
	tlsAtAuth []bool   // whether TLS was on at each attempt
	messages  []string // the envelope senders of the mail taken
}

func (a *authRelay) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &authSession{relay: a, conn: c}, nil
}

type authSession struct {
	relay  *authRelay
	conn   *smtp.Conn
	authed bool
	from   string
}

func (s *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *authSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		_, tlsOn := s.conn.TLSConnectionState()
		s.relay.mu.Lock()
		s.relay.attempts = append(s.relay.attempts, user)
		s.relay.tlsAtAuth = append(s.relay.tlsAtAuth, tlsOn)
		s.relay.mu.Unlock()
		if user != "reports" || pass != "s3cret" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}
		}
		s.authed = true
		return nil
	}), nil
}

func (s *authSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}
func (s *authSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *authSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	s.relay.mu.Lock()
	s.relay.messages = append(s.relay.messages, s.from)
	s.relay.mu.Unlock()
	return err
}
func (s *authSession) Reset()        {}
func (s *authSession) Logout() error { return nil }

// TestRelayAuth submits report mail to a relay that needs SMTP AUTH over
// STARTTLS: the right password delivers; a wrong one is an error that
// does not blame the rua (the mail is tried again); a relay without
// STARTTLS is refused before any credential is sent.
func TestRelayAuth(t *testing.T) {
	ca := testworld.NewCA(t, "relay test CA")
	for _, tc := range []struct {
		name      string
		password  string
		noTLS     bool
		delivered bool
		attempts  int
	}{
		{"right password", "s3cret", false, true, 1},
		{"wrong password", "guess", false, false, 1},
		{"no STARTTLS", "s3cret", true, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			backend := &authRelay{}
			srv := smtp.NewServer(backend)
			srv.Domain = "relay.test"
			srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
			if !tc.noTLS {
				srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*ca.Valid(t, "relay.test")}}
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(l)
			t.Cleanup(func() { srv.Close() })

			r := &Relay{Addr: l.Addr().String(), Username: "reports", Password: tc.password,
				TLSConfig: &tls.Config{ServerName: "relay.test", RootCAs: ca.Pool()}}
			err = r.SendMail(t.Context(), "noreply-smtp-tls-reporting@sender.test", []string{"tlsrpt@rua.test"}, []byte("Subject: x\r\n\r\nx\r\n"))
			if (err == nil) != tc.delivered {
				t.Fatalf("SendMail: %v; want delivered %v", err, tc.delivered)
			}
			if errors.Is(err, ErrRefused) {
				t.Errorf("SendMail: %v; the relay's refusal of our setup is not the rua's refusal of the report", err)
			}
			backend.mu.Lock()
			defer backend.mu.Unlock()
			if len(backend.attempts) != tc.attempts {
				t.Errorf("%d AUTH attempts, want %d", len(backend.attempts), tc.attempts)
			}
			for i, on := range backend.tlsAtAuth {
				if !on {
					t.Errorf("AUTH attempt %d without TLS", i)
				}
			}
			if got := len(backend.messages); got != map[bool]int{true: 1}[tc.delivered] {
				t.Errorf("%d messages taken", got)
			}
		})
	}
}
