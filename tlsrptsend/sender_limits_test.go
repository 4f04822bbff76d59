package tlsrptsend

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/reportstore"
)

func sqliteURL(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "reports.db") }

// TestSendDaySkips: a domain suppressed by hand and a report over the
// size limit are skipped and counted; the reports built are archived.
func TestSendDaySkips(t *testing.T) {
	sw := newSendWorld(t, sqliteURL(t))
	if err := sw.store.Suppress(t.Context(), "b.example", "asked us to stop"); err != nil {
		t.Fatal(err)
	}
	s := sw.sender("one")
	s.ArchiveDir = t.TempDir()
	res, err := s.SendDay(t.Context(), sendDay, true)
	if err != nil {
		t.Fatal(err)
	}
	skipped := map[string]string{}
	for _, sk := range res.Skipped {
		skipped[sk.Domain] = sk.Reason
	}
	if len(res.Reports) != 1 || skipped["b.example"] != "suppressed: asked us to stop" || skipped["c.example"] == "" {
		t.Errorf("reports %d, skipped %q", len(res.Reports), skipped)
	}
	archived, err := os.ReadFile(filepath.Join(s.ArchiveDir, res.Reports[0].Built.Filename))
	if err != nil || !bytes.Equal(archived, res.Reports[0].Built.Gzip) {
		t.Errorf("archive: %v", err)
	}
	if len(sw.mx.Messages()) != 0 {
		t.Error("a suppressed domain got its report")
	}

	sw2 := newSendWorld(t, sqliteURL(t))
	s2 := sw2.sender("two")
	s2.MaxReportSize = 100
	res, err = s2.SendDay(t.Context(), sendDay, true)
	if err != nil || len(res.Reports) != 0 || len(res.Skipped) != 3 {
		t.Errorf("with a 100-byte limit: %d reports, skipped %+v, %v", len(res.Reports), res.Skipped, err)
	}
}

// TestSendDaySuppressesFailingRUA: a rua that refuses reports for good
// (HTTP 403) is suppressed after MaxFailures days of it, and the next
// day's report is not posted to it.
func TestSendDaySuppressesFailingRUA(t *testing.T) {
	sw := newSendWorld(t, sqliteURL(t))
	sw.w.HTTPSHost("reports.a.example").SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	s := sw.sender("one")
	s.MaxFailures = 1
	s.Metrics = NewMetrics(prometheus.NewRegistry())
	res, err := s.SendDay(t.Context(), sendDay, true)
	if err != nil || res.Deliveries != (Deliveries{Delivered: 1, Failed: 1}) {
		t.Fatalf("first day: %+v, %v", res, err)
	}
	next := sw.nextDay(t)
	res, err = s.SendDay(t.Context(), next, true)
	if err != nil || len(res.Reports) != 1 || res.Deliveries != (Deliveries{Suppressed: 1}) {
		t.Fatalf("second day: %+v, %v", res, err)
	}
	qs, err := sw.store.QueuedReports(t.Context(), reportstore.QueueFilter{Day: next})
	if err != nil || len(qs) != 1 || qs[0].Status != string(DeliveryFailed) {
		t.Errorf("queue of the second day: %+v, %v", qs, err)
	}
	for _, c := range []struct {
		counter *prometheus.CounterVec
		label   string
		want    float64
	}{
		{s.Metrics.reports, "built", 3}, {s.Metrics.reports, "skipped", 1},
		{s.Metrics.deliveries, "delivered", 1}, {s.Metrics.deliveries, "failed", 1}, {s.Metrics.deliveries, "suppressed", 1},
		{s.Metrics.deliveries, "retried", 0},
	} {
		if got := testutil.ToFloat64(c.counter.WithLabelValues(c.label)); got != c.want {
			t.Errorf("metric %s = %v, want %v", c.label, got, c.want)
		}
	}
}

// TestSendDayRelayDKIM: report mail goes through a relay over STARTTLS,
// DKIM-signed; the signature verifies against the key published in DNS
// (RFC 8460 §3, §5.3).
func TestSendDayRelayDKIM(t *testing.T) {
	sw := newSendWorld(t, sqliteURL(t))
	relay := sw.w.SMTP("relay.sender.test", testworld.SMTPOptions{})
	s := sw.sender("one")
	s.Mail = &Relay{Addr: "relay.sender.test:25", TLSConfig: &tls.Config{ServerName: "relay.sender.test", RootCAs: sw.w.RootCAs()}, Dial: sw.w.DialContext}
	s.DKIM = publishDKIMKey(t, sw.w)
	res, err := s.SendDay(t.Context(), sendDay, true)
	if err != nil || res.Deliveries.Delivered != 2 { // the https report and the mail
		t.Fatalf("SendDay: %+v, %v", res, err)
	}
	msgs := relay.Messages()
	if len(msgs) != 1 || msgs[0].TLS == nil || len(sw.mx.Messages()) != 0 {
		t.Fatalf("%d mails at the relay (TLS %v), %d at the MX", len(msgs), len(msgs) == 1 && msgs[0].TLS != nil, len(sw.mx.Messages()))
	}
	verifyDKIM(t, sw.dns, msgs[0].Data)
}

// publishDKIMKey makes an Ed25519 key, publishes it in w's DNS as the
// selector tlsrpt of sender.test, as RFC 8460 §3 asks, and returns the
// options that sign with it.
func publishDKIMKey(t *testing.T, w *testworld.World) *dkim.SignOptions {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := DKIMKeyRecord(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	w.DNS.TXT("tlsrpt._domainkey.sender.test", rec)
	return &dkim.SignOptions{Domain: "sender.test", Selector: "tlsrpt", Signer: key}
}

// verifyDKIM checks that msg bears one valid signature of sender.test,
// its key looked up through dc.
func verifyDKIM(t *testing.T, dc *dnsx.Client, msg []byte) {
	t.Helper()
	lookup := func(name string) ([]string, error) { return dc.LookupTXT(t.Context(), name) }
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil || len(verifs) != 1 || verifs[0].Err != nil || verifs[0].Domain != "sender.test" {
		t.Errorf("DKIM verification of the report mail: %+v, %v", verifs, err)
	}
}

// refusingSession refuses every recipient with 550, as a rua address
// that does not exist.
type refusingSession struct{}

func (refusingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (refusingSession) Rcpt(string, *smtp.RcptOptions) error {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
}
func (refusingSession) Data(io.Reader) error { return nil }
func (refusingSession) Reset()               {}
func (refusingSession) Logout() error        { return nil }

// TestSendDayMailRefused: the rua domain's MX refuses the report mail's
// recipient with a 5yz reply: the delivery is given up at once, not
// retried for 24 hours, and with MaxFailures 1 the rua is suppressed.
func TestSendDayMailRefused(t *testing.T) {
	sw := newSendWorld(t, sqliteURL(t))
	sw.w.DNS.Add("refusing.example. MX 10 mx.refusing.example.")
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return refusingSession{}, nil }))
	srv.Domain = "mx.refusing.example"
	l := sw.w.Listen("mx.refusing.example", 25)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	sw.w.DNS.Remove("_smtp._tls.b.example", dns.TypeTXT)
	sw.w.DNS.TXT("_smtp._tls.b.example", "v=TLSRPTv1; rua=mailto:nobody@refusing.example")

	s := sw.sender("one")
	s.MaxFailures = 1
	res, err := s.SendDay(t.Context(), sendDay, true)
	if err != nil || res.Deliveries != (Deliveries{Delivered: 1, Failed: 1}) {
		t.Fatalf("SendDay = %+v, %v; want the mail given up", res.Deliveries, err)
	}
	sup, err := sw.store.Suppressed(t.Context(), "mailto:nobody@refusing.example", s.MaxFailures)
	if err != nil || sup == nil || !strings.Contains(sup.Reason, "550") {
		t.Errorf("suppression of the refusing rua: %+v, %v", sup, err)
	}
}
