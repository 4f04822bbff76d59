package probe

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
)

// The SMTP dialogue is spoken with net/textproto rather than through
// go-smtp's Client, which hides what a probe reports: it keeps the banner
// text and the list of EHLO keywords to itself, reads the greeting and
// sends EHLO in one step (so a silent server and a rejected EHLO look
// alike), falls back to HELO without saying so, resets the connection's
// deadline after every command (overriding the probe's overall Timeout),
// and performs the TLS handshake lazily inside the next command, so a
// handshake failure cannot be told from a failed EHLO.

// maxReplyBytes caps what a server may send on one connection before TLS
// (and again after it), so that a hostile server cannot make the probe
// buffer without end: banner, EHLO and STARTTLS replies are a few hundred
// bytes in practice.
const maxReplyBytes = 64 << 10

// smtpConn is the client side of an SMTP dialogue on one connection.
type smtpConn struct {
	conn net.Conn
	br   *bufio.Reader
	r    *textproto.Reader
	w    *textproto.Writer
}

// newSMTPConn starts an SMTP dialogue on c.
func newSMTPConn(c net.Conn) *smtpConn {
	br := bufio.NewReader(&io.LimitedReader{R: c, N: maxReplyBytes})
	return &smtpConn{
		conn: c,
		br:   br,
		r:    textproto.NewReader(br),
		w:    textproto.NewWriter(bufio.NewWriter(c)),
	}
}

// greeting reads the server's 220 greeting (RFC 5321 §4.2) and returns its
// text. Any other reply is returned as a *textproto.Error.
func (s *smtpConn) greeting() (string, error) {
	_, msg, err := s.r.ReadResponse(220)
	return msg, err
}

// ehlo sends EHLO name and returns the domain the server announced and
// the keywords of its extension lines (RFC 5321 §4.1.1.1), upper-cased.
func (s *smtpConn) ehlo(name string) (domain string, keywords []string, err error) {
	if name == "" || strings.ContainsAny(name, " \t\r\n") {
		return "", nil, fmt.Errorf("invalid EHLO name %q", name)
	}
	msg, err := s.cmd(250, "EHLO "+name)
	if err != nil {
		return "", nil, err
	}
	lines := strings.Split(msg, "\n")
	if f := strings.Fields(lines[0]); len(f) > 0 {
		domain = f[0]
	}
	for _, line := range lines[1:] {
		if f := strings.Fields(line); len(f) > 0 {
			keywords = append(keywords, strings.ToUpper(f[0]))
		}
	}
	return domain, keywords, nil
}

// startTLS sends STARTTLS and expects 220 (RFC 3207 §4). The server must
// then wait for the client's TLS hello: bytes already received after its
// reply are an error (ErrPlaintextAfterSTARTTLS), never passed to TLS.
func (s *smtpConn) startTLS() error {
	if _, err := s.cmd(220, "STARTTLS"); err != nil {
		return err
	}
	if s.br.Buffered() > 0 {
		return ErrPlaintextAfterSTARTTLS
	}
	return nil
}

// quit sends QUIT and reads the reply, whatever it is.
func (s *smtpConn) quit() {
	s.cmd(221, "QUIT")
}

// cmd sends one command line and reads the reply, which must have the
// status code expect; a different code is a *textproto.Error.
func (s *smtpConn) cmd(expect int, line string) (string, error) {
	if err := s.w.PrintfLine("%s", line); err != nil {
		return "", err
	}
	_, msg, err := s.r.ReadResponse(expect)
	return msg, err
}
