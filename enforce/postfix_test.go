package enforce

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

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
	daemonAddr := d.addr()

	ns := testpostfix.NewNamespace(t)
	ns.ServeWorld(w, map[string][]int{"mx.enforce-bad.test": {25}, "mx.enforce-good.test": {25}, "mx.testing-bad.test": {25}})
	// Inside the namespace the daemon is at 127.0.0.1:8461, as in
	// production.
	policyMap := ns.Forward("127.0.0.1:8461", func(ctx context.Context) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "tcp", daemonAddr)
	})
	ca, err := os.ReadFile(w.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pf := testpostfix.Start(t, ns, testpostfix.Options{CA: ca, Main: map[string]string{
		"smtp_tls_policy_maps": "socketmap:inet:" + policyMap + ":postfix",
	}})

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
