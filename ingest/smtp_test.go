package ingest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/mtasts/mtasts/reportstore"
)

// startSMTP serves in over SMTP or LMTP on 127.0.0.1 and returns the
// address.
func startSMTP(t *testing.T, in *Ingester, o SMTPOptions) string {
	t.Helper()
	o.Domain = "tlsrpt.example.com"
	srv := in.NewSMTPServer(o)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		if err := <-done; err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

// deliver sends data from a sender to rcpt and returns the server's error.
func deliver(t *testing.T, addr string, lmtp bool, rcpt string, data []byte) error {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var c *smtp.Client
	if lmtp {
		c = smtp.NewClientLMTP(conn)
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	if err := c.Hello("mail-sor-f41.google.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("noreply-smtp-tls-reporting@google.com", nil); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// RFC 8460 §5.3: reports delivered by mail, here straight to mtasts.
func TestSMTP(t *testing.T) {
	for _, lmtp := range []bool{false, true} {
		name := map[bool]string{false: "SMTP", true: "LMTP"}[lmtp]
		t.Run(name, func(t *testing.T) {
			in, store := newIngester(t, Config{MaxSize: 32 << 10})
			addr := startSMTP(t, in, SMTPOptions{LMTP: lmtp, Recipients: []string{"TLSRPT@example.com"}})
			google := readFile(t, "mail/google.eml")
			if err := deliver(t, addr, lmtp, "tlsrpt@example.com", google); err != nil {
				t.Fatalf("delivery: %v", err)
			}
			if err := deliver(t, addr, lmtp, "postmaster@example.com", google); smtpCode(err) != 550 {
				t.Errorf("delivery to another address: %v, want 550", err)
			}
			if err := deliver(t, addr, lmtp, "tlsrpt@example.com", bytes.Repeat([]byte("x\r\n"), 60<<10)); smtpCode(err) != 552 {
				t.Errorf("delivery of a large mail: %v, want 552", err)
			}
			if err := deliver(t, addr, lmtp, "tlsrpt@example.com", readFile(t, "bad/newsletter.eml")); err != nil {
				t.Errorf("delivery of a mail without report: %v, want it kept in quarantine", err)
			}
			page, err := store.ListReports(context.Background(), reportstore.ListOptions{})
			if err != nil || page.Total != 1 || page.Reports[0].Source != reportstore.SourceSMTP || page.Reports[0].DKIM != reportstore.DKIMPass {
				t.Fatalf("stored %+v, %v", page, err)
			}
			store.Close()
			if err := deliver(t, addr, lmtp, "tlsrpt@example.com", google); smtpCode(err) != 451 {
				t.Errorf("delivery with the store down: %v, want 451", err)
			}
		})
	}
}
