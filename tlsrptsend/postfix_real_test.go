package tlsrptsend

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mtasts/mtasts/internal/testenv/testpostfix"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/tlsrpt"
)

// realSession is what TestPostfixRealLog expects of one session.
type realSession struct {
	domain, mx string
	result     tlsrpt.ResultType
}

// TestPostfixRealLog has real Postfix (Debian's, in a network namespace)
// deliver one message to each of several testworld domains under a static
// TLS policy table (smtp_tls_policy_maps = texthash:FILE with "secure
// match=MX" entries, what the enforce service answers for an MTA-STS
// policy in enforce mode), then reads Postfix's own log and must find
// exactly one outcome per SMTP session with the RFC 8460 §4.3 result
// type, MX host name and IP address of each: a good MX, an expired
// certificate, a self-signed one, a name mismatch, no STARTTLS, a failed
// handshake (TLS 1.0 only), a domain whose first MX fails and second
// succeeds, and a domain without policy.
func TestPostfixRealLog(t *testing.T) {
	testpostfix.Require(t)
	w := testworld.New(t)
	type mx struct {
		host string
		opt  testworld.SMTPOptions
	}
	domains := []struct {
		domain string
		mxs    []mx
		want   []realSession
	}{
		{"good.test", []mx{{"mx.good.test", testworld.SMTPOptions{}}},
			[]realSession{{"good.test", "mx.good.test", ""}}},
		{"expired.test", []mx{{"mx.expired.test", testworld.SMTPOptions{Cert: w.CA.Expired(t, "mx.expired.test")}}},
			[]realSession{{"expired.test", "mx.expired.test", tlsrpt.ResultCertificateExpired}}},
		{"selfsigned.test", []mx{{"mx.selfsigned.test", testworld.SMTPOptions{Cert: testworld.SelfSigned(t, "mx.selfsigned.test")}}},
			[]realSession{{"selfsigned.test", "mx.selfsigned.test", tlsrpt.ResultCertificateNotTrusted}}},
		{"mismatch.test", []mx{{"mx.mismatch.test", testworld.SMTPOptions{Cert: w.CA.Valid(t, "other.example")}}},
			[]realSession{{"mismatch.test", "mx.mismatch.test", tlsrpt.ResultCertificateHostMismatch}}},
		{"plain.test", []mx{{"mx.plain.test", testworld.SMTPOptions{NoSTARTTLS: true}}},
			[]realSession{{"plain.test", "mx.plain.test", tlsrpt.ResultSTARTTLSNotSupported}}},
		{"oldtls.test", []mx{{"mx.oldtls.test", testworld.SMTPOptions{MaxVersion: tls.VersionTLS10}}},
			[]realSession{{"oldtls.test", "mx.oldtls.test", tlsrpt.ResultValidationFailure}}},
		{"two.test", []mx{{"mx1.two.test", testworld.SMTPOptions{Cert: testworld.SelfSigned(t, "mx1.two.test")}}, {"mx2.two.test", testworld.SMTPOptions{}}},
			[]realSession{{"two.test", "mx1.two.test", tlsrpt.ResultCertificateNotTrusted}, {"two.test", "mx2.two.test", ""}}},
		{"nopolicy.test", []mx{{"mx.nopolicy.test", testworld.SMTPOptions{}}},
			[]realSession{{"nopolicy.test", "mx.nopolicy.test", ""}}},
	}
	ports := map[string][]int{}
	policies := PolicyMap{}
	var table strings.Builder
	var want []realSession
	for _, d := range domains {
		var names []string
		for i, m := range d.mxs {
			w.DNS.Add(d.domain + ". MX " + strconv.Itoa(10*(i+1)) + " " + m.host + ".")
			w.SMTP(m.host, m.opt)
			ports[m.host] = []int{25}
			names = append(names, m.host)
		}
		want = append(want, d.want...)
		if d.domain == "nopolicy.test" {
			continue
		}
		fmt.Fprintf(&table, "%s secure match=%s\n", d.domain, strings.Join(names, ":"))
		policies[d.domain] = tlsrpt.Policy{
			Type:    tlsrpt.PolicySTS,
			Strings: []string{"version: STSv1", "mode: enforce", "max_age: 86400"},
			Domain:  d.domain,
			MXHosts: names,
		}
	}
	ns := testpostfix.NewNamespace(t)
	ns.ServeWorld(w, ports)
	ca, err := os.ReadFile(w.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pf := testpostfix.Start(t, ns, testpostfix.Options{CA: ca, Main: map[string]string{
		"smtp_tls_policy_maps": "texthash:" + writePolicyTable(t, table.String()),
	}})
	// Follow the live log file as Postfix writes it.
	sender := netip.MustParseAddr("192.0.2.25")
	p := NewPostfixParser(policies, sender, time.Local, time.Now)
	outcomes := make(chan Outcome, 100)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		src := &PostfixLog{Parser: p, Path: filepath.Join(pf.Dir, "maillog"), Poll: 10 * time.Millisecond}
		done <- src.Run(ctx, RecorderFunc(func(o Outcome) { outcomes <- o }))
	}()
	for _, d := range domains {
		pf.Send("alice@sender.test", "bob@"+d.domain, "to "+d.domain)
	}
	for _, d := range domains {
		pf.WaitLog(30*time.Second, "to=<bob@"+d.domain+">", "status=")
	}
	var got []Outcome
	timeout := time.After(30 * time.Second)
	for len(got) < len(want) {
		select {
		case o := <-outcomes:
			got = append(got, o)
		case <-timeout:
			t.Fatalf("%d outcomes read from the log, want %d; log:\n%s", len(got), len(want), pf.Log())
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("following the log: %v", err)
	}
	close(outcomes)
	for o := range outcomes {
		got = append(got, o)
	}
	var gotSessions []realSession
	for _, o := range got {
		gotSessions = append(gotSessions, realSession{o.Policy.Domain, o.MXHost, o.Result})
		if ip := netip.MustParseAddr(w.HostIP(o.MXHost).String()); o.ReceivingIP != ip {
			t.Errorf("%s: receiving IP %v, want %v", o.MXHost, o.ReceivingIP, ip)
		}
		if o.SendingIP != sender {
			t.Errorf("%s: sending IP %v, want %v", o.MXHost, o.SendingIP, sender)
		}
		if time.Since(o.Time) > 24*time.Hour || time.Until(o.Time) > 24*time.Hour {
			t.Errorf("%s: session time %v is not the time of the log", o.MXHost, o.Time)
		}
		wantType := tlsrpt.PolicySTS
		if o.Policy.Domain == "nopolicy.test" {
			wantType = tlsrpt.PolicyNoPolicyFound
		}
		if o.Policy.Type != wantType {
			t.Errorf("%s: policy type %q, want %q", o.Policy.Domain, o.Policy.Type, wantType)
		}
	}
	sortSessions := func(s []realSession) {
		slices.SortFunc(s, func(a, b realSession) int { return strings.Compare(a.mx, b.mx) })
	}
	sortSessions(want)
	sortSessions(gotSessions)
	if diff := cmp.Diff(want, gotSessions, cmp.AllowUnexported(realSession{})); diff != "" {
		t.Errorf("outcomes from the real Postfix log (-want +got):\n%s", diff)
	}
	if st := p.Stats(); st.Malformed != 0 || st.Orphaned != 0 || st.NotSyslog != 0 {
		t.Errorf("stats %+v: want no malformed, orphaned or unreadable lines", st)
	}

	// The day's reports of those outcomes read back without diagnostics,
	// with the sessions counted.
	agg := NewAggregator()
	days := map[time.Time]bool{}
	for _, o := range got {
		agg.Record(o)
		days[Day(o.Time)] = true
	}
	counts := map[string]int64{}
	built := map[string]*Built{}
	for day := range days {
		for _, domain := range agg.Domains(day) {
			b, err := Build(testSubmitter, day, domain, agg.Results(day, domain))
			if err != nil {
				t.Fatal(err)
			}
			parseBack(t, b)
			built[domain] = b
			tot := b.Report.Totals()
			counts[domain] += tot.Successful + tot.Failed
		}
	}
	wantCounts := map[string]int64{}
	for _, s := range want {
		wantCounts[s.domain]++
	}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("sessions counted in the reports per domain (-want +got):\n%s", diff)
	}
	if len(days) == 1 { // sessions on both sides of midnight UTC make two reports a domain
		sendRealOutcomes(t, w, got, built)
	}
	if t.Failed() {
		t.Logf("Postfix log:\n%s", pf.Log())
	}
}

// writePolicyTable writes a Postfix TLS policy table readable by Postfix,
// dated a minute ago so that Postfix reads it at once.
func writePolicyTable(t *testing.T, table string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tls_policy")
	if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Minute)
	if err := os.Chtimes(path, past, past); err != nil {
		t.Fatal(err)
	}
	return path
}
