package enforce

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/socketmap"
	"github.com/mtasts/mtasts/tlsrpt"
	"github.com/mtasts/mtasts/tlsrptsend"
)

// ruaReceiver keeps the reports posted to an https: rua; it refuses
// those that do not parse without a diagnostic.
type ruaReceiver struct {
	mu      sync.Mutex
	reports []*tlsrpt.Report
	errs    []error
}

func (rr *ruaReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rep, diags, err := tlsrpt.Parse(bytes.NewReader(body), tlsrpt.ParseOptions{})
	if err == nil && len(diags) > 0 {
		err = fmt.Errorf("report %s: %v", rep.ReportID, diags)
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if err != nil {
		rr.errs = append(rr.errs, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rr.reports = append(rr.reports, rep)
}

func (rr *ruaReceiver) received() ([]*tlsrpt.Report, []error) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return slices.Clone(rr.reports), slices.Clone(rr.errs)
}

// TestDaemonTLSReports runs the daemon with [daemon.tlsrpt_send] on, read
// from its file: its own failed policy fetches (a policy host with an
// expired certificate, an invalid policy, a policy host answering 404)
// and the sessions of real Postfix's log become outcomes of the day
// (RFC 8460 §4.3.2); once the day is over and its delay after midnight
// has passed (§4.1), each domain's report reaches its https: rua (§5.4)
// or, DKIM-signed, its mailto: rua (§5.3), and reads back with the
// counts and result types of what happened.
func TestDaemonTLSReports(t *testing.T) {
	w := testworld.New(t)
	policy := "version: STSv1\nmode: enforce\nmx: mx.%s\nmax_age: 86400\n"
	w.PolicyDomain("webpki.test", fmt.Sprintf(policy, "webpki.test")).SetCert(w.CA.Expired(t, "mta-sts.webpki.test"))
	w.PolicyDomain("invalid.test", "version: STSv1\nmode: enforce\nmax_age: 86400\n") // no mx
	w.PolicyDomain("fetcherr.test", fmt.Sprintf(policy, "fetcherr.test")).Set(testworld.PolicyPath, testworld.Response{Status: http.StatusNotFound})
	rua := &ruaReceiver{}
	w.HTTPSHost("reports.rua.test").SetHandler(rua)
	for _, d := range []string{"webpki.test", "invalid.test", "fetcherr.test"} {
		w.DNS.TXT("_smtp._tls."+d, "v=TLSRPTv1; rua=https://reports.rua.test/"+d)
	}
	// two.test is in Postfix's log: two sessions, one failed.
	w.DNS.TXT("_smtp._tls.two.test", "v=TLSRPTv1; rua=mailto:tlsrpt@rua.test")
	w.DNS.Add("rua.test. MX 10 mx.rua.test.")
	mx := w.SMTP("mx.rua.test", testworld.SMTPOptions{})

	dir := t.TempDir()
	keyFile := writeDKIMKey(t, w, dir)
	logData, err := os.ReadFile("../tlsrptsend/testdata/postfix/postfix-3.7-real.log")
	if err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(logFile, logData, 0o644); err != nil {
		t.Fatal(err)
	}

	path := testenv.WriteConfig(t, reportingConfig(keyFile, fmt.Sprintf(`postfix_log = %q
sending_ip = "192.0.2.1"
`, logFile)))
	clock := testclock.New(time.Now()) // the CA's certificates are valid now
	r := startServiceWith(t, w, path, func(o *Options) { o.Now, o.Sleep = clock.Now, pollSleep })
	s := r.s
	r.waitLog("TLS reporting schedule started")

	c, err := socketmap.Dial(t.Context(), "tcp", r.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, d := range []string{"webpki.test", "invalid.test", "fetcherr.test"} {
		if _, err := c.Lookup(t.Context(), "postfix", d); err != nil {
			t.Fatal(err)
		}
	}
	metricsURL := "http://" + s.MetricsAddr().String() + "/metrics"
	// The three failed fetches and the nine sessions of the log.
	waitFor(t, r, func() bool { return scrapeSum(t, metricsURL, "mtasts_tlsrpt_send_outcomes_total") == 12 })

	clock.Advance(24 * time.Hour) // past midnight and MinDelay
	waitFor(t, r, func() bool {
		reports, _ := rua.received()
		return len(reports) == 3 && len(mx.Messages()) == 1
	})
	reports, errs := rua.received()
	if len(errs) > 0 {
		t.Errorf("reports refused by the rua: %v", errs)
	}
	want := map[string]tlsrpt.ResultType{"webpki.test": tlsrpt.ResultSTSWebPKIInvalid,
		"invalid.test": tlsrpt.ResultSTSPolicyInvalid, "fetcherr.test": tlsrpt.ResultSTSPolicyFetchError}
	for _, rep := range reports {
		if rep.OrganizationName != "Sender Test" || len(rep.Policies) != 1 {
			t.Errorf("report %+v: want one policy, of Sender Test", rep)
			continue
		}
		pr := rep.Policies[0]
		rt, ok := want[pr.Policy.Domain]
		delete(want, pr.Policy.Domain)
		if !ok || pr.Policy.Type != tlsrpt.PolicySTS || pr.Summary != (tlsrpt.Summary{Failed: 1}) ||
			len(pr.FailureDetails) != 1 || pr.FailureDetails[0].ResultType != rt || pr.FailureDetails[0].FailedSessionCount != 1 {
			t.Errorf("report of %s: %+v; want one session failed with %s", pr.Policy.Domain, pr, rt)
		}
	}
	if len(want) > 0 {
		t.Errorf("no report of %v", want)
	}

	msg := mx.Messages()[0]
	mr, err := tlsrpt.ParseMessage(bytes.NewReader(msg.Data), tlsrpt.ParseOptions{})
	if err != nil || len(mr.Diagnostics) != 0 {
		t.Fatalf("report mail: %v, %v", err, mr.Diagnostics)
	}
	if p := mr.Report.Policies; len(p) != 1 || p[0].Policy.Domain != "two.test" || p[0].Summary != (tlsrpt.Summary{Successful: 2}) {
		t.Errorf("two.test's report: %+v; want 2 sessions under no-policy-found (not in the daemon's cache)", p)
	}
	verifyDKIM(t, w, msg.Data)
	testenv.CheckMetrics(t, metricsURL, "tlsrpt_send")
}

// TestDaemonLibTLSRPT: a datagram of libtlsrpt (Postfix 3.10) on the
// daemon's socket is an outcome of the day, in the domain's report.
func TestDaemonLibTLSRPT(t *testing.T) {
	w := testworld.New(t)
	rua := &ruaReceiver{}
	w.HTTPSHost("reports.rua.test").SetHandler(rua)
	w.DNS.TXT("_smtp._tls.dg.test", "v=TLSRPTv1; rua=https://reports.rua.test/dg.test")
	dir := t.TempDir()
	path := testenv.WriteConfig(t, reportingConfig(writeDKIMKey(t, w, dir), "libtlsrpt_socket = \"tlsrpt.sock\"\n"))
	clock := testclock.New(time.Now())
	r := startServiceWith(t, w, path, func(o *Options) { o.Now, o.Sleep = clock.Now, pollSleep })
	r.waitLog("TLS reporting schedule started")

	dg, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: filepath.Join(filepath.Dir(path), "tlsrpt.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer dg.Close()
	if _, err := dg.Write([]byte(`{"dpv": "1","d": "dg.test","pr": "v=TLSRPTv1; rua=https://reports.rua.test/dg.test","policies":[{"policy-type":2,"policy-domain": "dg.test","policy-string":["version: STSv1","mode: enforce","mx: mx.dg.test","max_age: 86400"],"mx-host":["mx.dg.test"],"failure-details":[{"c":204,"s": "192.0.2.1","n": "mx.dg.test","r": "192.0.2.25"}],"t":1,"f":1}]}`)); err != nil {
		t.Fatal(err)
	}
	metricsURL := "http://" + r.s.MetricsAddr().String() + "/metrics"
	waitFor(t, r, func() bool { return scrapeSum(t, metricsURL, "mtasts_tlsrpt_send_outcomes_total") == 1 })
	clock.Advance(24 * time.Hour)
	waitFor(t, r, func() bool { reports, errs := rua.received(); return len(reports)+len(errs) == 1 })
	reports, errs := rua.received()
	if len(errs) > 0 {
		t.Fatalf("report refused: %v", errs)
	}
	want := []tlsrpt.PolicyResult{{
		Policy:  tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: "dg.test", MXHosts: []string{"mx.dg.test"}, Strings: []string{"version: STSv1", "mode: enforce", "mx: mx.dg.test", "max_age: 86400"}},
		Summary: tlsrpt.Summary{Failed: 1},
		FailureDetails: []tlsrpt.FailureDetail{{ResultType: tlsrpt.ResultCertificateExpired, SendingMTAIP: netip.MustParseAddr("192.0.2.1"),
			ReceivingMXHostname: "mx.dg.test", ReceivingIP: netip.MustParseAddr("192.0.2.25"), FailedSessionCount: 1}},
	}}
	if diff := cmp.Diff(want, reports[0].Policies, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("report of dg.test (-want +got):\n%s", diff)
	}
}

// reportingConfig is the mtasts.toml of the daemon tests of TLS reports:
// metrics, the reports of Sender Test signed with keyFile, sent without
// delay after midnight, and extra keys of [daemon.tlsrpt_send].
func reportingConfig(keyFile, extra string) string {
	return fmt.Sprintf(`[daemon]
metrics = "127.0.0.1:0"

[daemon.tlsrpt_send]
enabled = true
store = "sqlite:reports.db"
organization_name = "Sender Test"
contact_info = "postmaster@sender.test"
submitter = "sender.test"
dkim_key = %q
dkim_selector = "tlsrpt"
helo = "sender.test"
spread = "0s"
`, keyFile) + extra
}

// writeDKIMKey writes an Ed25519 key to dir, publishes it in w as the
// selector tlsrpt of sender.test (RFC 8460 §3) and returns its file.
func writeDKIMKey(t *testing.T, w *testworld.World, dir string) string {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "dkim.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	rec, err := tlsrptsend.DKIMKeyRecord(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	w.DNS.TXT("tlsrpt._domainkey.sender.test", rec)
	return keyFile
}

// verifyDKIM checks that msg bears one valid signature of sender.test,
// its key looked up in w.
func verifyDKIM(t *testing.T, w *testworld.World, msg []byte) {
	t.Helper()
	dc, err := dnsx.New(dnsx.Config{Servers: []string{w.Resolver()}})
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(name string) ([]string, error) { return dc.LookupTXT(t.Context(), name) }
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil || len(verifs) != 1 || verifs[0].Err != nil || verifs[0].Domain != "sender.test" {
		t.Errorf("DKIM verification of the report mail: %+v, %v", verifs, err)
	}
}

// pollSleep is the Sleep of the schedule in tests: a short wait, so that
// the schedule looks again soon after the test clock moves.
func pollSleep(ctx context.Context, _ time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Millisecond):
		return nil
	}
}

// waitFor waits until cond holds, failing t with the daemon's log if it
// never does.
func waitFor(t *testing.T, r *serviceRun, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition never met; daemon log:\n%s", r.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// scrapeSum returns the sum of the samples of the metric name at url.
func scrapeSum(t *testing.T, url, name string) float64 {
	t.Helper()
	var sum float64
	for _, line := range strings.Split(testenv.Scrape(t, url), "\n") {
		if rest, ok := strings.CutPrefix(line, name+"{"); ok {
			var v float64
			if _, after, ok := strings.Cut(rest, "} "); ok {
				fmt.Sscan(after, &v)
			}
			sum += v
		}
	}
	return sum
}

// TestTLSReportsConfigErrors: what --check finds wrong in
// [daemon.tlsrpt_send] is named with its file, line and key.
func TestTLSReportsConfigErrors(t *testing.T) {
	good := "enabled = true\norganization_name = \"O\"\ncontact_info = \"c@sender.test\"\nsubmitter = \"sender.test\"\n"
	for _, tc := range []struct {
		name, section, want string
	}{
		{"no submitter", "enabled = true\norganization_name = \"O\"\ncontact_info = \"c@sender.test\"\n", ":2: daemon.tlsrpt_send.submitter: required"},
		{"key missing", good + "dkim_key = \"missing.pem\"\ndkim_selector = \"s\"\n", ":7: daemon.tlsrpt_send.dkim_key: open "},
		{"no selector", good + "dkim_key = \"missing.pem\"\n", ":7: daemon.tlsrpt_send.dkim_key: a DKIM key needs its selector"},
		{"sending ip", good + "sending_ip = \"192.0.2\"\n", ":7: daemon.tlsrpt_send.sending_ip: "},
		{"log missing", good + "postfix_log = \"nowhere/mail.log\"\n", ":7: daemon.tlsrpt_send.postfix_log: open "},
		{"unknown key", good + "dkim_keyfile = \"x\"\n", "dkim_keyfile"},
		{"spread", good + "spread = \"-1h\"\n", ":7: daemon.tlsrpt_send.spread: -1h0m0s: must be positive"},
		{"log and socket", good + "postfix_log = \"mtasts.toml\"\nlibtlsrpt_socket = \"tlsrpt.sock\"\n", ":8: daemon.tlsrpt_send.libtlsrpt_socket: with postfix_log too"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := testenv.WriteConfig(t, "[daemon]\n[daemon.tlsrpt_send]\n"+tc.section)
			_, err := Load(path, func(string) string { return "" })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load: %v; want an error with %q", err, tc.want)
			}
		})
	}
	// Off, the section is not checked.
	path := testenv.WriteConfig(t, "[daemon.tlsrpt_send]\ndkim_key = \"missing.pem\"\n")
	if _, err := Load(path, func(string) string { return "" }); err != nil {
		t.Errorf("Load of a section not enabled: %v", err)
	}
}
