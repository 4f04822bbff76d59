package testexim

import (
	"os"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv/testpostfix"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// The harness itself: a private Exim in its own namespace finds the
// world's MX through DNS on port 53, delivers to it on port 25 and trusts
// the world's CA as its system roots; a transport that requires a verified
// certificate defers the mail to a host with a self-signed one.
func TestInstanceDelivers(t *testing.T) {
	Require(t)
	w := testworld.New(t)
	w.DNS.Add("good.test. MX 10 mx.good.test.", "bad.test. MX 10 mx.bad.test.")
	good := w.SMTP("mx.good.test", testworld.SMTPOptions{})
	bad := w.SMTP("mx.bad.test", testworld.SMTPOptions{Cert: testworld.SelfSigned(t, "mx.bad.test")})

	ns := testpostfix.NewNamespace(t)
	ns.ServeWorld(w, map[string][]int{"mx.good.test": {25}, "mx.bad.test": {25}})
	ca, err := os.ReadFile(w.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	x := Start(t, ns, Options{CA: ca,
		Routers:    "dnslookup:\n  driver = dnslookup\n  transport = verified\n",
		Transports: "verified:\n  driver = smtp\n  hosts_require_tls = *\n  tls_verify_hosts = *\n  tls_verify_certificates = system\n",
	})

	x.Send("alice@sender.test", "hello", "bob@good.test")
	if line := x.LogLine("=> bob@good.test ", "CV=yes"); line == "" {
		t.Errorf("no verified delivery to good.test in the log:\n%s", x.Log())
	}
	if msgs := good.Messages(); len(msgs) != 1 || msgs[0].TLS == nil {
		t.Errorf("good.test got %d messages", len(msgs))
	}
	x.Send("alice@sender.test", "hello", "carol@bad.test")
	if line := x.LogLine("== carol@bad.test ", "certificate"); line == "" {
		t.Errorf("no deferral for bad.test in the log:\n%s", x.Log())
	}
	if len(bad.Messages()) != 0 {
		t.Errorf("bad.test got a message")
	}
}
