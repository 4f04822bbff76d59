package testworld

import (
	"bufio"
	"context"
	"crypto/tls"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
)

// dialSMTP connects to host's port 25 through w, with STARTTLS if cfg is
// not nil; the TLS handshake is complete when it returns.
func dialSMTP(t *testing.T, w *World, host string, cfg *tls.Config) (*smtp.Client, error) {
	t.Helper()
	conn, err := w.DialContext(context.Background(), "tcp", host+":25")
	if err != nil {
		t.Fatal(err)
	}
	if cfg == nil {
		c := smtp.NewClient(conn)
		t.Cleanup(func() { c.Close() })
		return c, nil
	}
	c, err := smtp.NewClientStartTLS(conn, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	// The client handshakes lazily, with the EHLO after STARTTLS.
	return c, c.Hello("client.example")
}

func TestSMTPStartTLS(t *testing.T) {
	w := New(t)
	mx := w.SMTP("mx1.example.com", SMTPOptions{})
	c, err := dialSMTP(t, w, "mx1.example.com", &tls.Config{ServerName: "mx1.example.com", RootCAs: w.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	data := "Subject: hi\r\n\r\nhello\r\n"
	if err := c.SendMail("a@sender.example", []string{"b@example.com", "c@example.com"}, strings.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	msgs := mx.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.TLS == nil || m.TLS.Version != tls.VersionTLS13 {
		t.Errorf("TLS state %+v", m.TLS)
	}
	m.TLS = nil
	want := Message{From: "a@sender.example", To: []string{"b@example.com", "c@example.com"}, Data: []byte(data)}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

func TestSMTPOptions(t *testing.T) {
	w := New(t)
	w.SMTP("plain.example", SMTPOptions{NoSTARTTLS: true, Hostname: "banner.example"})
	w.SMTP("old.example", SMTPOptions{MaxVersion: tls.VersionTLS12})
	w.SMTP("new.example", SMTPOptions{MinVersion: tls.VersionTLS13})
	w.SMTP("self.example", SMTPOptions{Cert: SelfSigned(t, "self.example")})

	// No STARTTLS, custom greeting name, plaintext delivery.
	conn, err := w.DialContext(context.Background(), "tcp", "plain.example:25")
	if err != nil {
		t.Fatal(err)
	}
	greeting, err := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if err != nil || !strings.HasPrefix(greeting, "220 banner.example ") {
		t.Errorf("greeting %q %v", greeting, err)
	}
	c, _ := dialSMTP(t, w, "plain.example", nil)
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Errorf("STARTTLS advertised with NoSTARTTLS")
	}

	c, err = dialSMTP(t, w, "old.example", &tls.Config{ServerName: "old.example", RootCAs: w.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	if cs, _ := c.TLSConnectionState(); cs.Version != tls.VersionTLS12 {
		t.Errorf("MaxVersion TLS 1.2: negotiated %s", tls.VersionName(cs.Version))
	}
	if _, err := dialSMTP(t, w, "new.example", &tls.Config{ServerName: "new.example", RootCAs: w.RootCAs(), MaxVersion: tls.VersionTLS12}); err == nil {
		t.Errorf("MinVersion TLS 1.3: TLS 1.2 client got through")
	}
	if _, err := dialSMTP(t, w, "self.example", &tls.Config{ServerName: "self.example", RootCAs: w.RootCAs()}); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("self-signed: got %v", err)
	}
}
