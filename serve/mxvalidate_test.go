package serve

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// TestMXValidator checks what a new MX host must pass before an enforce
// policy lists it (RFC 8461 §4.2), against real SMTP servers.
func TestMXValidator(t *testing.T) {
	w := testworld.New(t)
	w.SMTP("good.test", testworld.SMTPOptions{})
	w.SMTP("plain.test", testworld.SMTPOptions{NoSTARTTLS: true})
	w.SMTP("wrongname.test", testworld.SMTPOptions{Cert: w.CA.Valid(t, "other.test")})
	w.SMTP("old.test", testworld.SMTPOptions{MaxVersion: tls.VersionTLS11})
	validate := newMXValidator(w.DialContext, w.RootCAs(), time.Now)
	for host, want := range map[string]string{
		"good.test":      "",
		"plain.test":     "no STARTTLS",
		"wrongname.test": "other.test",
		"old.test":       "handshake",
		"absent.test":    "connect",
	} {
		err := validate(context.Background(), host)
		if (err == nil) != (want == "") || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", host, err, want)
		}
	}
}
