package testexim

import (
	"os"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv/testpostfix"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// Exim under the harness routes by the world's MX records, connects to
// port 25 of the MX host and takes the world's CA for the system's
// roots: a verified delivery to a host with a certificate from it, a
// deferral by a transport that requires verification from a host with a
// self-signed one.
func TestInstanceDelivers(t *testing.T) {
	Require(t)
	w := testworld.New(t)
	w.DNS.Add("verified.test. MX 5 mx.verified.test.", "selfsigned.test. MX 5 mx.selfsigned.test.")
	good := w.SMTP("mx.verified.test", testworld.SMTPOptions{})
	bad := w.SMTP("mx.selfsigned.test", testworld.SMTPOptions{Cert: testworld.SelfSigned(t, "mx.selfsigned.test")})
	ns := testpostfix.NewNamespace(t)
	ns.ServeWorld(w, map[string][]int{"mx.verified.test": {25}, "mx.selfsigned.test": {25}})
	ca, err := os.ReadFile(w.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	x := Start(t, ns, Options{CA: ca,
		Routers:    "dnslookup:\n  driver = dnslookup\n  transport = verified\n",
		Transports: "verified:\n  driver = smtp\n  hosts_require_tls = *\n  tls_verify_hosts = *\n  tls_verify_certificates = system\n",
	})

	x.Send("alice@sender.test", "hello", "bob@verified.test")
	if line := x.LogLine("=> bob@verified.test ", "CV=yes"); line == "" {
		t.Errorf("no verified delivery to verified.test in the log:\n%s", x.Log())
	}
	if msgs := good.Messages(); len(msgs) != 1 || msgs[0].TLS == nil {
		t.Errorf("verified.test got %d messages", len(msgs))
	}
	x.Send("alice@sender.test", "hello", "carol@selfsigned.test")
	if line := x.LogLine("== carol@selfsigned.test ", "certificate"); line == "" {
		t.Errorf("no deferral for selfsigned.test in the log:\n%s", x.Log())
	}
	if len(bad.Messages()) != 0 {
		t.Errorf("selfsigned.test got a message")
	}
}
