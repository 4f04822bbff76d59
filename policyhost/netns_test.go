//go:build linux

package policyhost

import (
	"context"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv/testpostfix"
	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// mta-sts-query, the resolver of Debian's postfix-mta-sts-resolver (an
// independent implementation), accepts our policy. It resolves names
// with the system resolver and connects to port 443, so it runs in a
// network namespace where the world's DNS answers on 127.0.0.1:53 and
// our policy host listens on 127.0.0.1:443.
func TestMTASTSQuery(t *testing.T) {
	query := requireTool(t, "mta-sts-query")
	if why := testpostfix.Available(); why != "" {
		testservers.Unavailable(t, why)
	}
	ns := testpostfix.NewNamespace(t)
	w := testworld.New(t)
	ns.ServeDNS(w.DNS)
	cfg := testConfig(t, w, "a.test", "b.test")
	cfg.Domains[1].Mode = "testing"
	ts := startSiteOn(t, cfg, Options{}, &Listeners{HTTPS: ns.Listen("tcp4", "127.0.0.1:443")})
	for _, p := range ts.srv.Handler().Policies() {
		w.DNS.Add("mta-sts." + p.Domain + ". 300 IN A 127.0.0.1")
		w.DNS.TXT("_mta-sts."+p.Domain, "v=STSv1; id="+p.ID+";")
	}
	for _, tc := range []struct{ domain, mode string }{{"a.test", "enforce"}, {"b.test", "testing"}} {
		out, err := ns.Command(context.Background(), "env", "SSL_CERT_FILE="+w.CAFile(), query, tc.domain).CombinedOutput()
		text := string(out)
		if err != nil || !strings.Contains(text, "VALID") || !strings.Contains(text, "'mode': '"+tc.mode+"'") ||
			!strings.Contains(text, "mx1."+tc.domain) || !strings.Contains(text, policyID(t, ts.srv, tc.domain)) {
			t.Errorf("mta-sts-query %s: %v\n%s", tc.domain, err, text)
		}
	}
	if !ts.logged(`"msg":"request"`, `"status":200`, "postfix-mta-sts-resolver") {
		t.Errorf("mta-sts-query's requests are not in the access log:\n%s", ts.logs)
	}
}
