package deliver_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// This file holds the MX servers testworld does not have: an ESMTP server
// that refuses commands by script (testworld's SMTPServer accepts every
// message) and raw TCP servers too broken for go-smtp. They listen on the
// world's loopback addresses through World.Listen.

// reply is an SMTP reply for a script.
func reply(code int, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.NoEnhancedCode, Message: msg}
}

// script says how a scriptedMX answers; the zero script accepts every
// message.
type script struct {
	mail *smtp.SMTPError            // reply to MAIL FROM; nil: 250
	rcpt map[string]*smtp.SMTPError // reply to RCPT TO by recipient; absent: 250
	data *smtp.SMTPError            // final reply to DATA; nil: 250
	// stallRcpt leaves RCPT TO unanswered until the test ends.
	stallRcpt bool
}

// scriptedMX is an ESMTP server offering STARTTLS with a certificate of
// the world's CA for its host, answering as its script says.
type scriptedMX struct {
	sc      script
	release chan struct{} // closed when the test ends, to free stalled sessions

	mu       sync.Mutex
	messages []testworld.Message
}

// startScripted serves host's SMTP port in w with sc until the test ends.
func startScripted(t *testing.T, w *testworld.World, host string, sc script) *scriptedMX {
	t.Helper()
	mx := &scriptedMX{sc: sc, release: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &scriptedSession{mx: mx, conn: c}, nil
	}))
	srv.Domain = host
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*w.CA.Valid(t, host)}}
	l := w.Listen(host, 25)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		close(mx.release) // first, so that Close finds no session stalled
		srv.Close()
		l.Close() // ends a Serve that had not registered l before Close
		if err := <-done; err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("scripted SMTP server %s: %v", host, err)
		}
	})
	return mx
}

// Messages returns the messages accepted so far.
func (mx *scriptedMX) Messages() []testworld.Message {
	mx.mu.Lock()
	defer mx.mu.Unlock()
	return slices.Clone(mx.messages)
}

// scriptedSession is one connection to a scriptedMX.
type scriptedSession struct {
	mx   *scriptedMX
	conn *smtp.Conn
	from string
	to   []string
}

func (s *scriptedSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.mx.sc.mail != nil {
		return s.mx.sc.mail
	}
	s.from = from
	return nil
}

func (s *scriptedSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.mx.sc.stallRcpt {
		<-s.mx.release
		return reply(421, "shutting down")
	}
	if r := s.mx.sc.rcpt[to]; r != nil {
		return r
	}
	s.to = append(s.to, to)
	return nil
}

func (s *scriptedSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.mx.sc.data != nil {
		return s.mx.sc.data
	}
	m := testworld.Message{From: s.from, To: s.to, Data: data}
	if cs, ok := s.conn.TLSConnectionState(); ok {
		m.TLS = &cs
	}
	s.mx.mu.Lock()
	s.mx.messages = append(s.mx.messages, m)
	s.mx.mu.Unlock()
	return nil
}

func (s *scriptedSession) Reset()        { s.from, s.to = "", nil }
func (s *scriptedSession) Logout() error { return nil }

// startRaw serves host's SMTP port in w with serve, one goroutine per
// connection, until the test ends, when the connections are closed.
func startRaw(t *testing.T, w *testworld.World, host string, serve func(c net.Conn)) {
	t.Helper()
	l := w.Listen(host, 25)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { serve(c) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// silent accepts the connection and never says a word.
func silent(c net.Conn) { io.Copy(io.Discard, c) }

// refuseGreeting greets with a 554 (RFC 5321 §3.1: no SMTP service here).
func refuseGreeting(c net.Conn) {
	fmt.Fprint(c, "554 5.3.2 no SMTP service here\r\n")
	io.Copy(io.Discard, c)
}

// stallInTLS offers STARTTLS, accepts it and then never answers the TLS
// client hello.
func stallInTLS(c net.Conn) {
	br := bufio.NewReader(c)
	fmt.Fprint(c, "220 stall.test ESMTP\r\n")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		switch verb, _, _ := strings.Cut(strings.ToUpper(strings.TrimSpace(line)), " "); verb {
		case "EHLO":
			fmt.Fprint(c, "250-stall.test\r\n250 STARTTLS\r\n")
		case "STARTTLS":
			fmt.Fprint(c, "220 go ahead\r\n")
			io.Copy(io.Discard, c)
			return
		default:
			fmt.Fprint(c, "502 not here\r\n")
		}
	}
}
