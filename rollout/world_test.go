package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/serve"
	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
)

// site is example.com served by policyhost from a configuration file in
// a test world, with a report store.
type site struct {
	w       *testworld.World
	config  string
	dataDir string
	store   *reportstore.Store
	clock   *testclock.Clock
	checker *check.Checker
	// resolver asks the world's DNS, for mx auto domains.
	resolver policyhost.MXResolver
}

// newSite publishes example.com with the MX hosts mx1 and mx2 (valid
// certificates) in a world, and writes its serve configuration, in mode
// testing.
func newSite(t *testing.T) *site {
	t.Helper()
	w := testworld.New(t)
	w.DNS.Add("example.com. MX 10 mx1.example.com.", "example.com. MX 20 mx2.example.com.")
	w.SMTP("mx1.example.com", testworld.SMTPOptions{})
	w.SMTP("mx2.example.com", testworld.SMTPOptions{})
	w.DNS.TXT("_smtp._tls.example.com", "v=TLSRPTv1; rua=mailto:tlsrpt@example.com")
	dir := t.TempDir()
	certFile, keyFile := testworld.WriteCertFiles(t, dir, "mta-sts.example.com", w.CA.Valid(t, "mta-sts.example.com"))
	config := filepath.Join(dir, "mtasts.toml")
	toml := fmt.Sprintf(`# serve configuration of the rollout test
[serve]
data_dir = "data"
listen_https = "127.0.0.1:0"
listen_http = ""
listen_metrics = ""

[[domain]]
name = "example.com"
mode = "testing" # until the reports say otherwise
max_age = 604800
mx = ["mx1.example.com", "mx2.example.com"]
cert_file = %q
key_file = %q
`, certFile, keyFile)
	if err := os.WriteFile(config, []byte(toml), 0o640); err != nil {
		t.Fatal(err)
	}
	clock := testclock.New(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	store, err := reportstore.Open(context.Background(), "sqlite://"+filepath.Join(dir, "reports.db"), reportstore.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	// The check judges certificates by the real time, which the world's
	// CA issues them for; the clock only places the window.
	checker, err := check.New(check.Options{Resolver: w.Resolver(), RootCAs: w.RootCAs(), Dial: w.DialContext, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	resolver, err := dnsx.NewFromAddr(w.Resolver())
	if err != nil {
		t.Fatal(err)
	}
	return &site{w: w, config: config, dataDir: filepath.Join(dir, "data"), store: store, clock: clock, checker: checker, resolver: resolver}
}

// importReports stores the fixture report file for each of the days
// before the clock's day, as org, through the store's API.
func (s *site) importReports(t *testing.T, fixture, org string, days int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata/reports", fixture))
	if err != nil {
		t.Fatal(err)
	}
	today := s.clock.Now().UTC().Truncate(24 * time.Hour)
	for i := 1; i <= days; i++ {
		rep, _, err := tlsrpt.Parse(bytes.NewReader(data), tlsrpt.ParseOptions{})
		if err != nil {
			t.Fatalf("%s: %v", fixture, err)
		}
		start := today.AddDate(0, 0, -i)
		rep.OrganizationName = org
		rep.DateRange = tlsrpt.DateRange{Start: start, End: start.Add(24*time.Hour - time.Second)}
		rep.ReportID = fmt.Sprintf("%s-%s", start.Format(time.DateOnly), fixture)
		raw, err := tlsrpt.Render(rep)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.store.Add(context.Background(), &reportstore.Submission{Report: rep, Raw: raw, RawType: tlsrpt.MediaTypeJSON, Source: reportstore.SourceFile, Origin: fixture})
		if err != nil || res.Outcome != reportstore.Accepted {
			t.Fatalf("storing %s for %s: %+v, %v", fixture, start, res, err)
		}
	}
}

// verdict gathers the evidence for example.com and judges it.
func (s *site) verdict(t *testing.T) Verdict {
	t.Helper()
	cfg, err := serve.Load(s.config)
	if err != nil {
		t.Fatal(err)
	}
	served, err := Served(context.Background(), cfg, "example.com", s.resolver)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := Gather(context.Background(), Sources{Store: s.store, Checker: s.checker, Now: s.clock.Now}, "example.com", served, Thresholds{})
	if err != nil {
		t.Fatal(err)
	}
	return Evaluate(ev, Thresholds{})
}

// host is a running policyhost server.
type host struct {
	srv  *policyhost.Server
	addr string
	stop func()
}

// startHost serves the configuration file of s on l (a fresh loopback
// listener if nil), as "mtasts serve" would, holding the data directory's
// lock until it stops.
func (s *site) startHost(t *testing.T, l net.Listener) *host {
	t.Helper()
	dl, err := policyhost.LockDataDir(s.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := serve.Load(s.config)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := policyhost.New(context.Background(), cfg.Config, policyhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l == nil {
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, policyhost.Listeners{HTTPS: l}) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		dl.Release()
	}
	t.Cleanup(stop)
	return &host{srv: srv, addr: l.Addr().String(), stop: stop}
}

// fetch fetches example.com's policy from h as a sender would.
func (h *host) fetch(t *testing.T, w *testworld.World) *sts.Policy {
	t.Helper()
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, h.addr)
	}
	f, err := sts.FetchPolicy(context.Background(), "example.com", sts.FetchOptions{RootCAs: w.RootCAs(), DialContext: dial, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("fetching the served policy: %v", err)
	}
	return f.Policy
}

// codes returns the reasons of v as "code mx_host result_type organization".
func codes(v Verdict) []string {
	var out []string
	for _, r := range v.Reasons {
		out = append(out, strings.TrimSpace(strings.Join([]string{string(r.Code), r.MXHost, r.ResultType, r.Organization}, " ")))
	}
	return out
}

// TestRolloutWorld takes example.com from testing to enforce on the
// evidence of stored reports and live checks, then demotes it to none.
func TestRolloutWorld(t *testing.T) {
	ctx := context.Background()
	s := newSite(t)
	h := s.startHost(t, s.w.Listen("mta-sts.example.com", 443))
	first, ok := mustState(t, s.dataDir).Get("example.com")
	if !ok {
		t.Fatal("the server assigned no policy id")
	}
	s.w.DNS.TXT("_mta-sts.example.com", "v=STSv1; id="+first.ID+";")

	// One organisation, successes only: not enough to judge.
	s.importReports(t, "success.json", "Google Inc.", 8)
	v := s.verdict(t)
	if v.Status != InsufficientData || !strings.Contains(strings.Join(codes(v), ","), string(CodeTooFewOrganizations)) {
		t.Fatalf("one reporter: %s %v, want insufficient-data for too few organisations", v.Status, codes(v))
	}

	// A second organisation reports certificate-expired failures at mx2.
	s.importReports(t, "mx2-expired.json", "Microsoft Corporation", 8)
	v = s.verdict(t)
	want := []string{"mx-failures mx2.example.com certificate-expired"}
	if v.Status != NotReady || strings.Join(codes(v), ",") != strings.Join(want, ",") {
		t.Fatalf("failures at mx2: %s %v, want not-ready %v", v.Status, codes(v), want)
	}
	if r := v.Reasons[0]; *r.Failures != 40 || *r.Sessions != 8*40+8*35 || !strings.Contains(r.Message, "renew the certificate of mx2.example.com") {
		t.Errorf("reason %+v: %d failures of %d sessions", r, *r.Failures, *r.Sessions)
	}
	if _, err := SetMode(ctx, s.config, "example.com", sts.ModeTesting, s.resolver, s.clock.Now); !errors.Is(err, ErrSameMode) {
		t.Errorf("SetMode to the mode in force: %v, want ErrSameMode", err)
	}

	// Three weeks on, both organisations report successes only.
	s.clock.Advance(21 * 24 * time.Hour)
	s.importReports(t, "success.json", "Google Inc.", 8)
	s.importReports(t, "success.json", "Microsoft Corporation", 8)
	v = s.verdict(t)
	if v.Status != Ready || len(v.Reasons) != 0 {
		t.Fatalf("only successes: %s %v, want ready", v.Status, codes(v))
	}
	if v.Evidence.Sessions != 16*40 || len(v.Evidence.LiveMX) != 2 || v.Evidence.Days != 8 {
		t.Errorf("evidence: %d sessions, live MX %+v, %d days", v.Evidence.Sessions, v.Evidence.LiveMX, v.Evidence.Days)
	}

	// Promote while the server holds the data directory: it assigns the
	// new id when it loads the changed file.
	c, err := SetMode(ctx, s.config, "example.com", sts.ModeEnforce, s.resolver, s.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Pending || c.Old.ID != first.ID || c.Old.Mode != sts.ModeTesting || c.New.Mode != sts.ModeEnforce || c.Record() != "" {
		t.Fatalf("promotion under a running server: %+v", c)
	}
	if fi, err := os.Stat(s.config); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("rewritten configuration: %v, %v; want mode 0640 kept", fi.Mode(), err)
	}
	data, _ := os.ReadFile(s.config)
	if !strings.Contains(string(data), `mode = "enforce" # until the reports say otherwise`) || !strings.HasPrefix(string(data), "# serve configuration") {
		t.Errorf("rewritten configuration:\n%s", data)
	}
	cfg, err := serve.Load(s.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Reload(ctx, cfg.Config); err != nil { // as serve does when the file changes
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if c.New.ID, err = WaitServed(wctx, s.dataDir, "example.com", c.New.Text, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if c.New.ID == first.ID || c.Record() != `_mta-sts.example.com. TXT "v=STSv1; id=`+c.New.ID+`;"` {
		t.Errorf("new id %q (old %q), record %q", c.New.ID, first.ID, c.Record())
	}
	if p := h.fetch(t, s.w); p.Mode != sts.ModeEnforce {
		t.Errorf("served mode %s after promotion, want enforce", p.Mode)
	}
	if _, err := Audit(ctx, s.store, c, ActionPromote, "alice", false, &v); err != nil {
		t.Fatal(err)
	}
	h.stop()

	// Demote to none with no server running: the id is assigned at once,
	// and the server started next serves it.
	s.clock.Advance(time.Hour)
	d, err := SetMode(ctx, s.config, "example.com", sts.ModeNone, s.resolver, s.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if d.Pending || d.New.ID == "" || d.New.ID == c.New.ID || d.New.Mode != sts.ModeNone || d.Old.ID != c.New.ID {
		t.Fatalf("demotion: %+v", d)
	}
	if want := s.clock.Now().Add(604800 * time.Second); !d.RemovableAt.Equal(want) {
		t.Errorf("removable at %s, want %s (RFC 8461 §8.3: the old max_age)", d.RemovableAt, want)
	}
	h2 := s.startHost(t, nil)
	if p := h2.fetch(t, s.w); p.Mode != sts.ModeNone {
		t.Errorf("served mode %s after demotion, want none", p.Mode)
	}
	if st, _ := mustState(t, s.dataDir).Get("example.com"); st.ID != d.New.ID {
		t.Errorf("served id %s, want %s", st.ID, d.New.ID)
	}
	if _, err := Audit(ctx, s.store, d, ActionDemote, "bob", false, nil); err != nil {
		t.Fatal(err)
	}

	log, err := s.store.AuditLog(ctx, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 {
		t.Fatalf("audit log: %+v", log)
	}
	if e := log[0]; e.Action != ActionPromote || e.Actor != "alice" || e.OldID != first.ID || e.NewID != c.New.ID || e.Verdict != "ready" ||
		!strings.Contains(e.NewPolicy, "mode: enforce") || !strings.Contains(e.OldPolicy, "mode: testing") {
		t.Errorf("promotion entry: %+v", e)
	} else {
		var got Verdict
		if err := json.Unmarshal(e.Evidence, &got); err != nil || got.Evidence.Sessions != v.Evidence.Sessions {
			t.Errorf("evidence of the promotion: %v, %+v", err, got)
		}
	}
	if e := log[1]; e.Action != ActionDemote || e.Actor != "bob" || e.OldID != c.New.ID || e.NewID != d.New.ID || !strings.Contains(e.NewPolicy, "mode: none") {
		t.Errorf("demotion entry: %+v", e)
	}
}

func mustState(t *testing.T, dir string) *policyhost.State {
	t.Helper()
	st, err := policyhost.OpenState(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
