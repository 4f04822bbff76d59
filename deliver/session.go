package deliver

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
)

// The SMTP dialogue is spoken with net/textproto, as internal/probe does,
// rather than with go-smtp's Client: v0.25 has no STARTTLS on a client
// already greeted with our EHLO name, and it performs the TLS handshake
// lazily inside the next command, so a handshake failure (which decides
// the TLS-RPT result type) could not be told from a failed EHLO.

// maxReplyBytes caps what a server may send on one connection before TLS
// and again after it, so that a hostile server cannot make us buffer
// without end.
const maxReplyBytes = 64 << 10

// session is the client side of one SMTP dialogue (RFC 5321).
type session struct {
	host string
	conn net.Conn
	br   *bufio.Reader
	r    *textproto.Reader
	w    *textproto.Writer
}

func newSession(host string, c net.Conn) *session {
	br := bufio.NewReader(&io.LimitedReader{R: c, N: maxReplyBytes})
	return &session{host: host, conn: c, br: br, r: textproto.NewReader(br), w: textproto.NewWriter(bufio.NewWriter(c))}
}

// reply reads a reply whose code must start with expect (1 to 3 digits,
// see textproto.Reader.ReadResponse); another code is a *ReplyError.
func (s *session) reply(verb string, expect int) (string, error) {
	code, msg, err := s.r.ReadResponse(expect)
	var te *textproto.Error
	if errors.As(err, &te) {
		return "", &ReplyError{Host: s.host, Command: verb, Code: code, Message: te.Msg}
	}
	return msg, err
}

// cmd sends one command line and reads its reply.
func (s *session) cmd(expect int, line string) (string, error) {
	if err := s.w.PrintfLine("%s", line); err != nil {
		return "", err
	}
	verb, _, _ := strings.Cut(line, " ")
	return s.reply(verb, expect)
}

// ehlo sends EHLO (RFC 5321 §4.1.1.1) and returns the announced extension
// keywords, upper-cased.
func (s *session) ehlo(name string) (map[string]bool, error) {
	msg, err := s.cmd(250, "EHLO "+name)
	if err != nil {
		return nil, err
	}
	ext := map[string]bool{}
	for _, line := range strings.Split(msg, "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 {
			ext[strings.ToUpper(f[0])] = true
		}
	}
	return ext, nil
}

// data sends DATA, the message with dot-stuffing (RFC 5321 §4.5.2) and
// reads the final reply.
func (s *session) data(msg []byte) error {
	if _, err := s.cmd(354, "DATA"); err != nil {
		return err
	}
	dw := s.w.DotWriter()
	if _, err := dw.Write(msg); err != nil {
		return err
	}
	if err := dw.Close(); err != nil {
		return err
	}
	_, err := s.reply("DATA", 250)
	return err
}

// addressLiteral returns the address literal of the local end of c, the
// EHLO name RFC 5321 §4.1.1.1 asks for when the client has no host name.
func addressLiteral(c net.Conn) string {
	ap, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return "localhost"
	}
	if a := ap.Addr().Unmap(); a.Is4() {
		return "[" + a.String() + "]"
	}
	return "[IPv6:" + ap.Addr().WithZone("").String() + "]"
}
