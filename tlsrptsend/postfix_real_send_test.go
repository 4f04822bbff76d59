package tlsrptsend

import (
	"bytes"
	"net/http"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mtasts/mtasts/deliver"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// sendRealOutcomes stores the outcomes read from real Postfix's log and
// sends the next day's reports into w: expired.test asks for its report
// at an https rua, two.test by mail to rua.test's MX. The report posted
// and the report mailed, DKIM-signed and verified against the key in
// DNS, read back as the reports built from the same outcomes in memory
// (RFC 8460 §4, §5.3, §5.4).
func sendRealOutcomes(t *testing.T, w *testworld.World, outcomes []Outcome, built map[string]*Built) {
	t.Helper()
	rua := &reportReceiver{}
	w.HTTPSHost("reports.expired.test").SetHandler(rua)
	w.DNS.TXT("_smtp._tls.expired.test", "v=TLSRPTv1; rua=https://reports.expired.test/tlsrpt")
	w.DNS.TXT("_smtp._tls.two.test", "v=TLSRPTv1; rua=mailto:tlsrpt@rua.test")
	w.DNS.Add("rua.test. MX 10 mx.rua.test.")
	mx := w.SMTP("mx.rua.test", testworld.SMTPOptions{})
	signing := publishDKIMKey(t, w)

	day := Day(outcomes[0].Time)
	clock := testclock.New(day.Add(24*time.Hour + 10*time.Minute))
	store, err := reportstore.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "reports.db"), reportstore.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rec := NewStoreRecorder(store)
	for _, o := range outcomes {
		rec.Record(o)
	}
	if err := rec.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	dns, err := dnsx.New(dnsx.Config{Servers: []string{w.Resolver()}})
	if err != nil {
		t.Fatal(err)
	}
	client := w.HTTPClient()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s := &Sender{
		Store: store, Submitter: testSubmitter, DNS: dns, HTTPS: &HTTPSDeliverer{Client: client},
		Mail: DirectMail{&deliver.Sender{DNS: dns, Dial: w.DialContext, Opportunistic: true, HeloName: "sender.test", Timeout: 5 * time.Second}},
		DKIM: signing,
		Now:  clock.Now,
	}
	res, err := s.SendDay(t.Context(), day, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deliveries != (Deliveries{Delivered: 2}) {
		t.Errorf("deliveries %+v, want 2 delivered", res.Deliveries)
	}

	opts := cmpopts.EquateComparable(netip.Addr{})
	if _, accepted := rua.counts(); accepted != 1 {
		t.Fatalf("%d reports posted, want 1", accepted)
	}
	posted, diags, err := tlsrpt.Parse(bytes.NewReader(rua.accepted[0]), tlsrpt.ParseOptions{})
	if err != nil || len(diags) != 0 {
		t.Fatalf("report posted: %v, %v", err, diags)
	}
	if diff := cmp.Diff(built["expired.test"].Report, posted, opts, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("expired.test's report posted (-built from the log +received):\n%s", diff)
	}
	msgs := mx.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d report mails, want 1", len(msgs))
	}
	mr, err := tlsrpt.ParseMessage(bytes.NewReader(msgs[0].Data), tlsrpt.ParseOptions{})
	if err != nil || len(mr.Diagnostics) != 0 {
		t.Fatalf("report mail: %v, %v", err, mr.Diagnostics)
	}
	if diff := cmp.Diff(built["two.test"].Report, mr.Report, opts, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("two.test's report mailed (-built from the log +received):\n%s", diff)
	}
	verifyDKIM(t, dns, msgs[0].Data)
}
