package policyhost

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// Every metric docs/metrics.md lists for the policy host is exposed, once
// a policy was fetched, an mx = "auto" domain saw its MX set change, a
// DNS update failed (nothing listens on the update server's port) and
// the configuration was reloaded.
func TestMetricsDocumented(t *testing.T) {
	w := testworld.New(t)
	w.DNS.Add("a.test. 300 IN MX 10 mx1.a.test.")
	resolver, err := dnsx.NewFromAddr(w.Resolver())
	if err != nil {
		t.Fatal(err)
	}
	cfg := autoConfig(t, w)
	cfg.DNSUpdate = DNSUpdateConfig{Server: "127.0.0.1:1", KeyName: "k.", Algorithm: "hmac-sha256", Secret: "c2VjcmV0", TTL: 300, Timeout: time.Second}
	ts := startSite(t, cfg, Options{Resolver: resolver})
	if _, err := ts.fetch(t, w, "a.test"); err != nil {
		t.Fatal(err)
	}
	w.DNS.Remove("a.test", dns.TypeMX)
	w.DNS.Add("a.test. 300 IN MX 10 mx2.a.test.")
	ts.srv.refresh(context.Background(), true)
	if err := ts.srv.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the DNS update to fail", func() bool {
		return metricValue(t, ts, `mtasts_serve_dns_updates_total{domain="a.test",result="failure"}`) >= 1
	})
	testenv.CheckMetrics(t, "http://"+ts.ls.Metrics.Addr().String()+"/metrics", "policyhost")
}
