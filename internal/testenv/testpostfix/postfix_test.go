package testpostfix

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// The harness itself: a private Postfix in its own namespace finds the
// world's MX through DNS on port 53, delivers to it on port 25 and
// verifies its certificate against the world's CA; a static "secure"
// policy with a wrong match name defers the mail.
func TestInstanceDelivers(t *testing.T) {
	Require(t)
	w := testworld.New(t)
	w.DNS.Add("good.test. MX 10 mx.good.test.", "bad.test. MX 10 mx.bad.test.")
	good := w.SMTP("mx.good.test", testworld.SMTPOptions{})
	w.SMTP("mx.bad.test", testworld.SMTPOptions{})

	ns := NewNamespace(t)
	ns.ServeWorld(w, map[string][]int{"mx.good.test": {25}, "mx.bad.test": {25}})
	ca, err := os.ReadFile(w.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pf := Start(t, ns, Options{CA: ca, Main: map[string]string{
		"smtp_tls_policy_maps": "inline:{ { bad.test = secure match=other.bad.test } }",
	}})

	pf.Send("alice@sender.test", "bob@good.test", "hello")
	pf.WaitLog(20*time.Second, "to=<bob@good.test>", "status=sent")
	if msgs := good.Messages(); len(msgs) != 1 || msgs[0].TLS == nil {
		t.Fatalf("good.test got %d messages (TLS: %v)", len(msgs), len(msgs) == 1 && msgs[0].TLS != nil)
	}

	pf.Send("alice@sender.test", "carol@bad.test", "hello")
	line := pf.WaitLog(20*time.Second, "to=<carol@bad.test>", "status=deferred")
	if !strings.Contains(line, "certificate") {
		t.Errorf("deferral without a TLS reason: %s", line)
	}
	if q := pf.Queue(); !strings.Contains(q, "carol@bad.test") {
		t.Errorf("deferred message not in the queue:\n%s", q)
	}
}
