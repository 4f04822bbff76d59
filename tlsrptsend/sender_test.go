package tlsrptsend

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mtasts/mtasts/deliver"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// sendDay is the UTC day the sender tests report on.
var sendDay = time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)

// sendWorld is a testworld with three policy domains that had outcomes
// on sendDay: a.example wants reports at an https rua, b.example by mail
// to rua.example, whose MX is a testworld SMTP server, and c.example has
// no _smtp._tls record.
type sendWorld struct {
	w     *testworld.World
	rua   *reportReceiver
	mx    *testworld.SMTPServer
	dns   *dnsx.Client
	clock *testclock.Clock
	store *reportstore.Store
}

// stores are the backends the sender is tested over.
var stores = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "reports.db") }},
	{"postgres", func(t *testing.T) string { return testservers.StartPostgres(t).NewDatabase(t) }},
}

func newSendWorld(t *testing.T, storeURL string, fail ...int) *sendWorld {
	t.Helper()
	w := testworld.New(t)
	sw := &sendWorld{w: w, rua: &reportReceiver{fail: fail}, clock: testclock.New(sendDay.Add(24*time.Hour + 30*time.Minute))}
	w.HTTPSHost("reports.a.example").SetHandler(sw.rua)
	w.DNS.TXT("_smtp._tls.a.example", "v=TLSRPTv1; rua=https://reports.a.example/tlsrpt")
	w.DNS.TXT("_smtp._tls.b.example", "v=TLSRPTv1; rua=mailto:tlsrpt@rua.example")
	w.DNS.Add("rua.example. MX 10 mx.rua.example.")
	sw.mx = w.SMTP("mx.rua.example", testworld.SMTPOptions{})
	var err error
	if sw.dns, err = dnsx.New(dnsx.Config{Servers: []string{w.Resolver()}}); err != nil {
		t.Fatal(err)
	}
	if sw.store, err = reportstore.Open(t.Context(), storeURL, reportstore.Options{Now: sw.clock.Now}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.store.Close() })

	// Two MTAs feed the store through recorders of their own.
	for _, mta := range []string{"192.0.2.1", "192.0.2.2"} {
		rec := NewStoreRecorder(sw.store)
		for _, dom := range []string{"a.example", "b.example", "c.example"} {
			pol := stsPolicy
			pol.Domain = dom
			o := Outcome{Time: sendDay.Add(5 * time.Hour), Policy: pol, MXHost: "mx1." + dom,
				ReceivingIP: netip.MustParseAddr("127.1.0.9"), SendingIP: netip.MustParseAddr(mta)}
			rec.Record(o)
			rec.Record(o)
			o.Result = tlsrpt.ResultCertificateExpired
			rec.Record(o)
		}
		if err := rec.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	return sw
}

// nextDay moves the clock a day on and records a session with a.example
// on the day after sendDay, which it returns.
func (sw *sendWorld) nextDay(t *testing.T) time.Time {
	t.Helper()
	day := sendDay.Add(24 * time.Hour)
	sw.clock.Advance(24 * time.Hour)
	rec := NewStoreRecorder(sw.store)
	pol := stsPolicy
	pol.Domain = "a.example"
	rec.Record(Outcome{Time: day.Add(time.Hour), Policy: pol, MXHost: "mx1.a.example"})
	if err := rec.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	return day
}

// sender returns a new Sender (as after a restart) named holder.
func (sw *sendWorld) sender(holder string) *Sender {
	client := sw.w.HTTPClient()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Sender{
		Store:     sw.store,
		Submitter: testSubmitter,
		DNS:       sw.dns,
		HTTPS:     &HTTPSDeliverer{Client: client},
		Mail: DirectMail{&deliver.Sender{DNS: sw.dns, Dial: sw.w.DialContext, Opportunistic: true,
			HeloName: "sender.test", Timeout: 5 * time.Second}},
		Now:    sw.clock.Now,
		Delay:  func() time.Duration { return 0 },
		Holder: holder,
	}
}

// TestSendDay: the day's reports are built from what two MTAs stored,
// the domain without a record is skipped, the report mail reaches the
// rua domain's MX and reads back as built, and the https rua that fails
// twice gets the report once, through restarts between attempts (RFC
// 8460 §5.5).
func TestSendDay(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			sw := newSendWorld(t, st.url(t), http.StatusServiceUnavailable, http.StatusInternalServerError)
			res, err := sw.sender("one").SendDay(t.Context(), sendDay, true)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Built || len(res.Reports) != 2 || len(res.Skipped) != 1 || res.Skipped[0].Domain != "c.example" {
				t.Fatalf("SendDay built %v: %d reports, skipped %+v", res.Built, len(res.Reports), res.Skipped)
			}
			if want := (Deliveries{Delivered: 1, Retrying: 1}); res.Deliveries != want {
				t.Errorf("deliveries %+v, want %+v", res.Deliveries, want)
			}
			// Both MTAs' outcomes in one report: 4 successes, 2 failures
			// in two details (one per sending MTA).
			pr := res.Reports[0].Built.Report.Policies[0]
			if pr.Summary != (tlsrpt.Summary{Successful: 4, Failed: 2}) || len(pr.FailureDetails) != 2 {
				t.Errorf("a.example's report: %+v", pr)
			}

			msgs := sw.mx.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d report mails, want 1", len(msgs))
			}
			mr, err := tlsrpt.ParseMessage(bytes.NewReader(msgs[0].Data), tlsrpt.ParseOptions{})
			if err != nil || len(mr.Diagnostics) != 0 {
				t.Fatalf("ParseMessage: %v, diagnostics %+v", err, mr.Diagnostics)
			}
			if diff := cmp.Diff(res.Reports[1].Built.Report, mr.Report, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("report mailed (-built +read):\n%s", diff)
			}
			if mr.Domain != "b.example" || msgs[0].To[0] != "tlsrpt@rua.example" {
				t.Errorf("mail for %s to %v", mr.Domain, msgs[0].To)
			}

			// A restart before the retry is due sends nothing.
			if n, err := sw.sender("two").DeliverDue(t.Context()); err != nil || n != (Deliveries{}) {
				t.Errorf("DeliverDue before the retry = %+v, %v", n, err)
			}
			sw.clock.Advance(time.Minute)
			if n, err := sw.sender("three").DeliverDue(t.Context()); err != nil || n != (Deliveries{Retrying: 1}) {
				t.Errorf("second attempt = %+v, %v", n, err)
			}
			sw.clock.Advance(2 * time.Minute)
			if n, err := sw.sender("four").DeliverDue(t.Context()); err != nil || n != (Deliveries{Delivered: 1}) {
				t.Errorf("third attempt = %+v, %v", n, err)
			}
			sw.clock.Advance(time.Hour)
			again, err := sw.sender("five").SendDay(t.Context(), sendDay, true)
			if err != nil || again.Built || again.Deliveries != (Deliveries{}) {
				t.Errorf("SendDay again = %+v, %v", again, err)
			}
			if posts, accepted := sw.rua.counts(); posts != 3 || accepted != 1 || len(sw.mx.Messages()) != 1 {
				t.Errorf("%d posts, %d accepted, %d mails; want 3, 1, 1", posts, accepted, len(sw.mx.Messages()))
			}
		})
	}
}

// blockingRUA answers its first POST only once released, with 500, and
// accepts the others.
type blockingRUA struct {
	reportReceiver
	started, release chan struct{}
	once             sync.Once
}

func (b *blockingRUA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	first := false
	b.once.Do(func() { first = true })
	if first {
		io.Copy(io.Discard, r.Body)
		close(b.started)
		<-b.release
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	b.reportReceiver.ServeHTTP(w, r)
}

// TestSendDayTakeover: two senders share one store. While the first
// holds the lease the second does nothing; the first is stopped during
// its first attempt, and the second sends every report once. Then a
// holder that crashed keeps the lease until it expires, and its
// delivery caught in the middle of an attempt is made by the next one.
func TestSendDayTakeover(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			sw := newSendWorld(t, st.url(t))
			rua := &blockingRUA{started: make(chan struct{}), release: make(chan struct{})}
			sw.w.HTTPSHost("reports.a.example").SetHandler(rua)

			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				_, err := sw.sender("first").SendDay(ctx, sendDay, true)
				done <- err
			}()
			<-rua.started
			if _, err := sw.sender("second").SendDay(t.Context(), sendDay, true); !errors.Is(err, ErrLeaseHeld) {
				t.Fatalf("second sender while the first holds the lease: %v, want ErrLeaseHeld", err)
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("first sender stopped with %v", err)
			}
			close(rua.release)

			res, err := sw.sender("second").SendDay(t.Context(), sendDay, true)
			if err != nil {
				t.Fatal(err)
			}
			if res.Built || res.Deliveries != (Deliveries{Delivered: 2}) {
				t.Errorf("second sender: built %v, %+v; want the first one's queue delivered", res.Built, res.Deliveries)
			}
			if _, accepted := rua.counts(); accepted != 1 || len(sw.mx.Messages()) != 1 {
				t.Errorf("%d reports accepted, %d mails; want 1 and 1", accepted, len(sw.mx.Messages()))
			}

			// A crash: the holder took the lease and stored "sending"
			// before an attempt, then nothing more.
			day := sw.nextDay(t)
			crashed := sw.sender("crashed")
			plan, _, err := crashed.Plan(t.Context(), day)
			if err != nil || len(plan) != 1 {
				t.Fatalf("Plan = %d reports, %v", len(plan), err)
			}
			if err := crashed.lease(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := crashed.queue(t.Context(), day, plan); err != nil {
				t.Fatal(err)
			}
			if _, err := sw.store.MarkDayBuilt(t.Context(), day, 1, 0); err != nil {
				t.Fatal(err)
			}
			qs, err := sw.store.QueuedReports(t.Context(), reportstore.QueueFilter{Day: day, WithData: true})
			if err != nil || len(qs) != 1 {
				t.Fatalf("queue = %+v, %v", qs, err)
			}
			qs[0].Status = string(DeliverySending)
			if err := sw.store.UpdateQueued(t.Context(), qs[0]); err != nil {
				t.Fatal(err)
			}

			next := sw.sender("next")
			if _, err := next.SendDay(t.Context(), day, true); !errors.Is(err, ErrLeaseHeld) {
				t.Fatalf("SendDay under a crashed holder's lease: %v, want ErrLeaseHeld", err)
			}
			sw.clock.Advance(DefaultLeaseTTL)
			res, err = next.SendDay(t.Context(), day, true)
			if err != nil || res.Deliveries != (Deliveries{Delivered: 1}) {
				t.Fatalf("SendDay after the lease expired = %+v, %v", res, err)
			}
			if _, accepted := rua.counts(); accepted != 2 {
				t.Errorf("%d reports accepted, want 2 (one per day)", accepted)
			}
		})
	}
}

// TestSendDayConcurrent: four daemons, each with its own connection to
// one store, send the same day at once: one builds the reports, each
// report reaches each rua once, the others find the lease held.
func TestSendDayConcurrent(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			url := st.url(t)
			sw := newSendWorld(t, url)
			var wg sync.WaitGroup
			results := make(chan error, 4)
			built := make(chan bool, 4)
			for i := range 4 {
				store, err := reportstore.Open(t.Context(), url, reportstore.Options{Now: sw.clock.Now})
				if err != nil {
					t.Fatal(err)
				}
				defer store.Close()
				s := sw.sender(string(rune('a' + i)))
				s.Store = store
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := s.SendDay(t.Context(), sendDay, true)
					results <- err
					built <- err == nil && res.Built
				}()
			}
			wg.Wait()
			close(results)
			close(built)
			var builders int
			for b := range built {
				if b {
					builders++
				}
			}
			for err := range results {
				if err != nil && !errors.Is(err, ErrLeaseHeld) {
					t.Errorf("SendDay: %v", err)
				}
			}
			if _, accepted := sw.rua.counts(); builders != 1 || accepted != 1 || len(sw.mx.Messages()) != 1 {
				t.Errorf("%d senders built the day, %d reports posted, %d mailed; want 1 each", builders, accepted, len(sw.mx.Messages()))
			}
		})
	}
}
