package monitor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrptsend"
)

// Email mails each alert through a submission server (RFC 6409), over
// STARTTLS with AUTH PLAIN when a username is set (the relay of package
// tlsrptsend).
type Email struct {
	Relay *tlsrptsend.Relay
	From  string
	To    []string
}

// Name implements Channel.
func (e *Email) Name() string { return "email" }

// Send implements Channel.
func (e *Email) Send(ctx context.Context, a reportstore.MonitorAlert) error {
	if err := e.Relay.SendMail(ctx, e.From, e.To, e.message(a)); err != nil {
		return fmt.Errorf("monitor: email: %w", err)
	}
	return nil
}

// message composes the mail of a (RFC 5322), plain text.
func (e *Email) message(a reportstore.MonitorAlert) []byte {
	var b bytes.Buffer
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	domain := e.From[strings.LastIndexByte(e.From, '@')+1:]
	fmt.Fprintf(&b, "From: %s\r\n", (&mail.Address{Address: e.From}).String())
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(e.To, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", Subject(a)))
	fmt.Fprintf(&b, "Date: %s\r\n", a.Time.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id), domain)
	fmt.Fprintf(&b, "Auto-Submitted: auto-generated\r\n")
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(Text(a), "\n", "\r\n"))
	return b.Bytes()
}
