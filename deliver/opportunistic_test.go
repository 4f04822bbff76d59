package deliver_test

import (
	"testing"

	"github.com/mtasts/mtasts/deliver"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// TestOpportunistic: mail with TLS-Required: No (RFC 8689 §5), such as a
// TLS report (RFC 8460 §5.3), reaches an MX host whose certificate has
// expired although the domain's policy is enforce: the policy is not
// even fetched, and TLS is still used.
func TestOpportunistic(t *testing.T) {
	w := testworld.New(t)
	w.DNS.Add("example.com. MX 10 mx1.example.com.")
	host := w.PolicyDomain("example.com", enforcePolicy)
	mx := w.SMTP("mx1.example.com", testworld.SMTPOptions{Cert: w.CA.Expired(t, "mx1.example.com")})
	s := newSender(t, w)
	s.Resolver, s.Opportunistic = nil, true
	res, err := send(t, s)
	checkErr(t, err, nil)
	checkAttempts(t, res, []want{{"mx1.example.com", deliver.OutcomeDelivered, ""}})
	if msgs := mx.Messages(); len(msgs) != 1 || msgs[0].TLS == nil {
		t.Errorf("%d messages at mx1 (TLS %v), want 1 over TLS", len(msgs), len(msgs) > 0 && msgs[0].TLS != nil)
	}
	if n := host.Requests("/.well-known/mta-sts.txt"); n != 0 {
		t.Errorf("the policy was fetched %d times", n)
	}
}
