package enforce

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/internal/testenv/testpostfix"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/tlsrpt"
)

// TestDaemonTLSReportsWithPostfix is the whole sending side of RFC 8460
// with real Postfix: Postfix asks the daemon for each domain's policy
// (smtp_tls_policy_maps) and delivers to testworld MX hosts, good and
// broken; the daemon, with [daemon.tlsrpt_send] on and its clock under
// the test's control, follows Postfix's log and records its own failed
// policy fetch; once the day is over, each domain's report reaches its
// https: rua or, DKIM-signed, its mailto: rua, with exactly the sessions,
// policies, result types, MX hosts and IP addresses of the day, and
// reads back as the copy the daemon archived.
func TestDaemonTLSReportsWithPostfix(t *testing.T) {
	testpostfix.Require(t)
	w := testworld.New(t)
	policy := func(mode, domain string) string {
		return "version: STSv1\nmode: " + mode + "\nmx: mx." + domain + "\nmax_age: 86400\n"
	}
	for _, d := range []struct{ domain, mode string }{
		{"enforce-good.test", "enforce"}, {"enforce-bad.test", "enforce"}, {"testing-bad.test", "testing"}, {"webpki.test", "enforce"},
	} {
		w.DNS.Add(d.domain + ". MX 10 mx." + d.domain + ".")
		h := w.PolicyDomain(d.domain, policy(d.mode, d.domain))
		if d.domain == "webpki.test" {
			h.SetCert(w.CA.Expired(t, "mta-sts.webpki.test"))
			w.DNS.TXT("_smtp._tls."+d.domain, "v=TLSRPTv1; rua=mailto:tlsrpt@rua.test")
		} else {
			w.DNS.TXT("_smtp._tls."+d.domain, "v=TLSRPTv1; rua=https://reports.rua.test/"+d.domain)
		}
	}
	w.SMTP("mx.enforce-good.test", testworld.SMTPOptions{})
	w.SMTP("mx.enforce-bad.test", testworld.SMTPOptions{Cert: testworld.SelfSigned(t, "mx.enforce-bad.test")})
	w.SMTP("mx.testing-bad.test", testworld.SMTPOptions{Cert: testworld.SelfSigned(t, "mx.testing-bad.test")})
	w.SMTP("mx.webpki.test", testworld.SMTPOptions{})
	rua := &ruaReceiver{}
	w.HTTPSHost("reports.rua.test").SetHandler(rua)
	w.DNS.Add("rua.test. MX 10 mx.rua.test.")
	ruaMX := w.SMTP("mx.rua.test", testworld.SMTPOptions{})

	dir := t.TempDir()
	archive := filepath.Join(dir, "archive")
	if err := os.Mkdir(archive, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "mtasts.toml")
	keyFile := writeDKIMKey(t, w, dir)
	// Postfix first, so that the daemon follows its log from the start;
	// it asks the daemon only once mail is sent.
	var daemonAddr atomic.Value
	ns := testpostfix.NewNamespace(t)
	ns.ServeWorld(w, map[string][]int{"mx.enforce-good.test": {25}, "mx.enforce-bad.test": {25}, "mx.testing-bad.test": {25}, "mx.webpki.test": {25}})
	policyMap := ns.Forward("127.0.0.1:8461", func(ctx context.Context) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "tcp", daemonAddr.Load().(string))
	})
	ca, err := os.ReadFile(w.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pf := testpostfix.Start(t, ns, testpostfix.Options{CA: ca, Main: map[string]string{
		"smtp_tls_policy_maps": "socketmap:inet:" + policyMap + ":postfix",
	}})
	maillog := filepath.Join(pf.Dir, "maillog")
	conf := reportingConfig(keyFile, fmt.Sprintf("postfix_log = %q\nsending_ip = \"192.0.2.25\"\narchive_dir = \"archive\"\n", maillog))
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	clock := testclock.New(time.Now()) // the CA's certificates are valid now
	d := startServiceWith(t, w, path, func(o *Options) { o.Now, o.Sleep = clock.Now, pollSleep })
	daemonAddr.Store(d.addr())
	for _, domain := range []string{"enforce-good.test", "enforce-bad.test", "testing-bad.test", "webpki.test"} {
		pf.Send("alice@sender.test", "bob@"+domain, "to "+domain)
	}
	pf.WaitLog(30*time.Second, "to=<bob@enforce-good.test>", "status=sent")
	pf.WaitLog(30*time.Second, "to=<bob@enforce-bad.test>", "status=deferred")
	pf.WaitLog(30*time.Second, "to=<bob@testing-bad.test>", "status=sent")
	pf.WaitLog(30*time.Second, "to=<bob@webpki.test>", "status=sent")
	metricsURL := "http://" + d.s.MetricsAddr().String() + "/metrics"
	// One session per domain, and the daemon's failed fetch of webpki.test's policy.
	waitFor(t, d, func() bool { return scrapeSum(t, metricsURL, "mtasts_tlsrpt_send_outcomes_total") == 5 })

	clock.Advance(24 * time.Hour)
	waitFor(t, d, func() bool {
		reports, _ := rua.received()
		return len(reports) == 3 && len(ruaMX.Messages()) == 1
	})
	reports, errs := rua.received()
	if len(errs) > 0 {
		t.Errorf("reports refused by the rua: %v", errs)
	}
	msg := ruaMX.Messages()[0]
	mr, err := tlsrpt.ParseMessage(bytes.NewReader(msg.Data), tlsrpt.ParseOptions{})
	if err != nil || len(mr.Diagnostics) != 0 {
		t.Fatalf("report mail: %v, %v", err, mr.Diagnostics)
	}
	verifyDKIM(t, w, msg.Data)
	reports = append(reports, mr.Report)

	ip := func(host string) netip.Addr { return netip.MustParseAddr(w.HostIP(host).String()) }
	sender := netip.MustParseAddr("192.0.2.25")
	sts := func(mode, domain string) tlsrpt.Policy {
		return tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: domain, MXHosts: []string{"mx." + domain},
			Strings: strings.Split(strings.TrimSuffix(policy(mode, domain), "\n"), "\n")}
	}
	failed := func(rt tlsrpt.ResultType, host string) []tlsrpt.FailureDetail {
		return []tlsrpt.FailureDetail{{ResultType: rt, SendingMTAIP: sender, ReceivingMXHostname: host, ReceivingIP: ip(host), FailedSessionCount: 1}}
	}
	want := map[string][]tlsrpt.PolicyResult{
		"enforce-good.test": {{Policy: sts("enforce", "enforce-good.test"), Summary: tlsrpt.Summary{Successful: 1}}},
		"enforce-bad.test": {{Policy: sts("enforce", "enforce-bad.test"), Summary: tlsrpt.Summary{Failed: 1},
			FailureDetails: failed(tlsrpt.ResultCertificateNotTrusted, "mx.enforce-bad.test")}},
		"testing-bad.test": {{Policy: sts("testing", "testing-bad.test"), Summary: tlsrpt.Summary{Failed: 1},
			FailureDetails: failed(tlsrpt.ResultCertificateNotTrusted, "mx.testing-bad.test")}},
		// Its policy could not be had: Postfix delivered without one,
		// and the failed fetch is reported under sts.
		"webpki.test": {
			{Policy: tlsrpt.Policy{Type: tlsrpt.PolicyNoPolicyFound, Domain: "webpki.test"}, Summary: tlsrpt.Summary{Successful: 1}},
			{Policy: tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: "webpki.test"}, Summary: tlsrpt.Summary{Failed: 1},
				FailureDetails: []tlsrpt.FailureDetail{{ResultType: tlsrpt.ResultSTSWebPKIInvalid, SendingMTAIP: sender, FailedSessionCount: 1}}},
		},
	}
	opts := []cmp.Option{cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty(),
		cmpopts.IgnoreFields(tlsrpt.FailureDetail{}, "AdditionalInformation", "FailureReasonCode"),
		cmpopts.SortSlices(func(a, b tlsrpt.PolicyResult) bool { return a.Policy.Type < b.Policy.Type })}
	for _, rep := range reports {
		domain := rep.Policies[0].Policy.Domain
		if diff := cmp.Diff(want[domain], rep.Policies, opts...); diff != "" {
			t.Errorf("report of %s (-want +got):\n%s", domain, diff)
		}
		delete(want, domain)
		archived := readArchived(t, archive, rep.ReportID)
		if diff := cmp.Diff(archived, rep, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("report of %s received (-archived +received):\n%s", domain, diff)
		}
	}
	if len(want) > 0 {
		t.Errorf("no report of %v", slices.Collect(maps.Keys(want)))
	}
	if t.Failed() {
		t.Logf("Postfix log:\n%s\ndaemon log:\n%s", pf.Log(), d.log)
	}
}

// readArchived reads the report with id from the archive directory.
func readArchived(t *testing.T, dir, id string) *tlsrpt.Report {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		rep, diags, err := tlsrpt.Parse(bytes.NewReader(data), tlsrpt.ParseOptions{})
		if err != nil || len(diags) > 0 {
			t.Fatalf("archived %s: %v %v", e.Name(), err, diags)
		}
		if rep.ReportID == id {
			return rep
		}
	}
	t.Fatalf("report %s not archived", id)
	return nil
}
