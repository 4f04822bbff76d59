package enforce

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/internal/testenv/testpostfix"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// Real Postfix delivering real mail with the service as its TLS policy
// map (smtp_tls_policy_maps = socketmap:inet:127.0.0.1:PORT:postfix): a
// private Postfix instance in a network namespace whose DNS and port 25
// are the test world's (see package testpostfix for how).
//
//   - enforce, certificate not trusted: deferred with the TLS reason,
//     the message still queued (RFC 8461 §5: never deliver to an MX
//     failing validation; treat it as temporary);
//   - enforce, valid certificate: delivered over verified TLS;
//   - testing, certificate not trusted: delivered anyway (RFC 8461 §5).
func TestDaemonWithPostfix(t *testing.T) {
	testpostfix.Require(t)
	w := testworld.New(t)
	for _, d := range []struct{ domain, mode string }{
		{"enforce-bad.test", "enforce"}, {"enforce-good.test", "enforce"}, {"testing-bad.test", "testing"},
	} {
		w.DNS.Add(d.domain + ". MX 10 mx." + d.domain + ".")
		w.PolicyDomain(d.domain, "version: STSv1\nmode: "+d.mode+"\nmx: mx."+d.domain+"\nmax_age: 86400\n")
	}
	w.SMTP("mx.enforce-bad.test", testworld.SMTPOptions{Cert: testworld.SelfSigned(t, "mx.enforce-bad.test")})
	good := w.SMTP("mx.enforce-good.test", testworld.SMTPOptions{})
	testing := w.SMTP("mx.testing-bad.test", testworld.SMTPOptions{Cert: testworld.SelfSigned(t, "mx.testing-bad.test")})

	d := startService(t, w, "", func(c *Config) { c.LogLevel = "debug" })
	pf := startPostfix(t, w, d, map[string][]int{"mx.enforce-bad.test": {25}, "mx.enforce-good.test": {25}, "mx.testing-bad.test": {25}})

	pf.Send("alice@sender.test", "bob@enforce-good.test", "enforce, good certificate")
	pf.Send("alice@sender.test", "carol@enforce-bad.test", "enforce, bad certificate")
	pf.Send("alice@sender.test", "dave@testing-bad.test", "testing, bad certificate")

	pf.WaitLog(30*time.Second, "to=<bob@enforce-good.test>", "status=sent")
	pf.WaitLog(5*time.Second, "Verified TLS connection established to mx.enforce-good.test")
	if msgs := good.Messages(); len(msgs) != 1 || msgs[0].TLS == nil || !strings.Contains(string(msgs[0].Data), "enforce, good certificate") {
		t.Errorf("enforce-good.test: %d messages received (want 1, over TLS)", len(msgs))
	}

	pf.WaitLog(30*time.Second, "to=<dave@testing-bad.test>", "status=sent")
	if msgs := testing.Messages(); len(msgs) != 1 {
		t.Errorf("testing-bad.test: %d messages received, want 1", len(msgs))
	}

	line := pf.WaitLog(30*time.Second, "to=<carol@enforce-bad.test>", "status=deferred")
	t.Logf("Postfix: %s", line)
	if !strings.Contains(line, "certificate") {
		t.Errorf("deferral of enforce-bad.test without the TLS reason: %s", line)
	}
	if q := pf.Queue(); !strings.Contains(q, "carol@enforce-bad.test") || !strings.Contains(q, "certificate") {
		t.Errorf("the deferred message is not queued with its reason:\n%s", q)
	}
	for _, key := range []string{"enforce-good.test", "enforce-bad.test", "testing-bad.test"} {
		if !strings.Contains(d.log.String(), "key="+key+" ") {
			t.Errorf("the daemon was not asked about %s", key)
		}
	}
	if t.Failed() {
		t.Logf("Postfix log:\n%s\ndaemon log:\n%s", pf.Log(), d.log)
	}
}

// mxScenario is a domain of TestDaemonWithPostfixMXHosts: its policy's
// mx patterns, its MX hosts in preference order, and the names on each
// host's certificate (its own name unless given).
type mxScenario struct {
	domain   string
	patterns []string
	mx       []string
	certs    map[string][]string
}

// Postfix 3.7 (Debian 12), given the exact names of the covered MX hosts
// (postfix_version = "3.7"), delivers only to MX hosts that RFC 8461 §4.1
// allows, which Postfix's own match= semantics (certificate names only,
// ".example.com" at any depth) would not ensure:
//
//   - "*.wild.test" and MX mx.in.wild.test, two labels down: deferred;
//   - "mail.named.test" and MX mx1.named.test, whose certificate also
//     names mail.named.test: deferred;
//   - covered MX hosts: delivered;
//   - an uncovered primary and a covered backup: delivered to the backup;
//   - the MX records change: once their TTL has passed, the next answer
//     follows them (delivered to the new covered host, deferred when the
//     new host is not covered).
func TestDaemonWithPostfixMXHosts(t *testing.T) {
	testpostfix.Require(t)
	w := testworld.New(t)
	scenarios := []mxScenario{
		{domain: "wild.test", patterns: []string{"*.wild.test"}, mx: []string{"mx.in.wild.test"}},
		{domain: "named.test", patterns: []string{"mail.named.test"}, mx: []string{"mx1.named.test"},
			certs: map[string][]string{"mx1.named.test": {"mx1.named.test", "mail.named.test"}}},
		{domain: "covered.test", patterns: []string{"*.covered.test", "mx.other.test"}, mx: []string{"mx1.covered.test", "mx.other.test"}},
		{domain: "mixed.test", patterns: []string{"backup.mixed.test"}, mx: []string{"primary.mixed.test", "backup.mixed.test"}},
		{domain: "change.test", patterns: []string{"*.change.test"}, mx: []string{"mx1.change.test"}},
	}
	servers := map[string]*testworld.SMTPServer{}
	ports := map[string][]int{}
	serve := func(host string, names []string) {
		if names == nil {
			names = []string{host}
		}
		servers[host] = w.SMTP(host, testworld.SMTPOptions{Cert: w.CA.Valid(t, names...)})
		ports[host] = []int{25}
	}
	for _, s := range scenarios {
		policy := "version: STSv1\nmode: enforce\n"
		for _, p := range s.patterns {
			policy += "mx: " + p + "\n"
		}
		w.PolicyDomain(s.domain, policy+"max_age: 86400\n")
		for i, host := range s.mx {
			w.DNS.Add(fmt.Sprintf("%s. 300 MX %d %s.", s.domain, 10*(i+1), host))
			serve(host, s.certs[host])
		}
	}
	// Where change.test's MX moves: a covered host, then one two labels down.
	serve("mx2.change.test", nil)
	serve("mx.in.change.test", nil)

	clock := testclock.New(time.Now())
	d := startServiceAt(t, w, clock.Now, "", func(c *Config) { c.LogLevel = "debug"; c.PostfixVersion = "3.7" })
	pf := startPostfix(t, w, d, ports)

	send := func(to, subject string) { pf.Send("alice@sender.test", to, subject) }
	send("a@wild.test", "wildcard two labels down")
	send("b@named.test", "uncovered MX naming a covered host")
	send("c@covered.test", "covered MX hosts")
	send("d@mixed.test", "uncovered primary, covered backup")
	send("e@change.test", "before the MX change")

	for _, to := range []string{"a@wild.test", "b@named.test"} {
		line := pf.WaitLog(30*time.Second, "to=<"+to+">", "status=deferred")
		t.Logf("Postfix: %s", line)
	}
	pf.WaitLog(30*time.Second, "to=<c@covered.test>", "status=sent")
	pf.WaitLog(30*time.Second, "to=<d@mixed.test>", "relay=backup.mixed.test", "status=sent")
	pf.WaitLog(30*time.Second, "to=<e@change.test>", "relay=mx1.change.test", "status=sent")

	moveMX := func(host string) {
		w.DNS.Remove("change.test", dns.TypeMX)
		w.DNS.Add("change.test. 300 MX 10 " + host + ".")
		clock.Advance(301 * time.Second)
	}
	moveMX("mx2.change.test")
	send("f@change.test", "after the MX change")
	pf.WaitLog(30*time.Second, "to=<f@change.test>", "relay=mx2.change.test", "status=sent")
	moveMX("mx.in.change.test")
	send("g@change.test", "MX moved two labels down")
	pf.WaitLog(30*time.Second, "to=<g@change.test>", "status=deferred")

	for host, want := range map[string]int{
		"mx.in.wild.test": 0, "mx1.named.test": 0, "mx1.covered.test": 1, "mx.other.test": 0,
		"primary.mixed.test": 0, "backup.mixed.test": 1, "mx1.change.test": 1, "mx2.change.test": 1, "mx.in.change.test": 0,
	} {
		if n := len(servers[host].Messages()); n != want {
			t.Errorf("%s received %d messages, want %d", host, n, want)
		}
	}
	if t.Failed() {
		t.Logf("Postfix log:\n%s\ndaemon log:\n%s", pf.Log(), d.log)
	}
}

// startPostfix starts a private Postfix in a namespace that sees w as the
// internet, serving ports of w's hosts, with the service d as its TLS
// policy map at 127.0.0.1:8461 inside, as in production.
func startPostfix(t *testing.T, w *testworld.World, d *serviceRun, ports map[string][]int) *testpostfix.Instance {
	t.Helper()
	daemonAddr := d.addr()
	ns := testpostfix.NewNamespace(t)
	ns.ServeWorld(w, ports)
	policyMap := ns.Forward("127.0.0.1:8461", func(ctx context.Context) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "tcp", daemonAddr)
	})
	ca, err := os.ReadFile(w.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	return testpostfix.Start(t, ns, testpostfix.Options{CA: ca, Main: map[string]string{
		"smtp_tls_policy_maps": "socketmap:inet:" + policyMap + ":postfix",
	}})
}

// What the version setting guards against: Debian 12's Postfix (3.7)
// rejects the TLSRPT attributes of Postfix 3.10 ("invalid attribute
// name") and with them the whole policy, so mail waits (4.7.5) instead
// of going out; with postfix_version = "3.7" (the other tests) it is
// delivered.
func TestPostfix37RejectsTLSRPTAttributes(t *testing.T) {
	testpostfix.Require(t)
	w := testworld.New(t)
	w.DNS.Add("enforce.test. MX 10 mx.enforce.test.")
	w.PolicyDomain("enforce.test", "version: STSv1\nmode: enforce\nmx: mx.enforce.test\nmax_age: 86400\n")
	mx := w.SMTP("mx.enforce.test", testworld.SMTPOptions{})
	d := startService(t, w, "", func(c *Config) { c.PostfixVersion = "3.10" })
	pf := startPostfix(t, w, d, map[string][]int{"mx.enforce.test": {25}})
	pf.Send("alice@sender.test", "bob@enforce.test", "to a Postfix too old for the reply")
	pf.WaitLog(30*time.Second, `invalid attribute name: "policy_type"`)
	pf.WaitLog(30*time.Second, "to=<bob@enforce.test>", "status=deferred")
	if n := len(mx.Messages()); n != 0 {
		t.Errorf("%d messages delivered, want 0", n)
	}
}
