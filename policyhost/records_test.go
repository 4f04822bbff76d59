package policyhost

import (
	"context"
	"testing"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// recordStatuses returns "TYPE name value" → status for every record.
func recordStatuses(r DomainRecords) map[string]RecordStatus {
	out := map[string]RecordStatus{}
	for _, rec := range r.Records {
		out[rec.Type+" "+rec.Name+" "+rec.Value] = rec.Status
	}
	return out
}

// The records each domain needs (RFC 8461 §3.1, RFC 8460 §3) are compared
// with live DNS: published, missing, or stale.
func TestCheckRecords(t *testing.T) {
	w := testworld.New(t)
	resolver, err := dnsx.NewFromAddr(w.Resolver())
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, w, "good.test", "none.test", "old.test")
	cfg.Records.Addresses = []string{"192.0.2.10", "2001:db8::10"}
	cfg.Domains[2].TLSRPT = []string{"mailto:reports@old.test"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	state, err := OpenState(cfg.DataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := Policies(context.Background(), &cfg, state, resolver)
	if err != nil {
		t.Fatal(err)
	}
	w.DNS.Add(
		"mta-sts.good.test. 300 IN A 192.0.2.10",
		"mta-sts.good.test. 300 IN AAAA 2001:db8::10",
		"mta-sts.old.test. 300 IN A 192.0.2.10",
		"mta-sts.old.test. 300 IN A 198.51.100.7",
	)
	w.DNS.TXT("_mta-sts.good.test", "v=STSv1; id="+ps[0].ID+";")
	w.DNS.TXT("_smtp._tls.good.test", "v=TLSRPTv1; rua=mailto:tlsrpt@good.test")
	w.DNS.TXT("_mta-sts.old.test", "v=STSv1; id=20200101000000;")
	w.DNS.TXT("_smtp._tls.old.test", "v=TLSRPTv1; rua=mailto:tlsrpt@old.test")

	check := func(i int) map[string]RecordStatus {
		return recordStatuses(CheckRecords(context.Background(), resolver, cfg.Records, &cfg.Domains[i], ps[i]))
	}
	for _, tc := range []struct {
		i    int
		want map[string]RecordStatus
	}{
		{0, map[string]RecordStatus{
			"A mta-sts.good.test. 192.0.2.10":                                   StatusPublished,
			"AAAA mta-sts.good.test. 2001:db8::10":                              StatusPublished,
			"TXT _mta-sts.good.test. v=STSv1; id=" + ps[0].ID + ";":             StatusPublished,
			"TXT _smtp._tls.good.test. v=TLSRPTv1; rua=mailto:tlsrpt@good.test": StatusPublished,
		}},
		{1, map[string]RecordStatus{
			"A mta-sts.none.test. 192.0.2.10":                                   StatusMissing,
			"AAAA mta-sts.none.test. 2001:db8::10":                              StatusMissing,
			"TXT _mta-sts.none.test. v=STSv1; id=" + ps[1].ID + ";":             StatusMissing,
			"TXT _smtp._tls.none.test. v=TLSRPTv1; rua=mailto:tlsrpt@none.test": StatusMissing,
		}},
		{2, map[string]RecordStatus{
			"A mta-sts.old.test. 192.0.2.10":                                   StatusPublished,
			"AAAA mta-sts.old.test. 2001:db8::10":                              StatusMissing,
			"A mta-sts.old.test. 198.51.100.7":                                 StatusStale,
			"TXT _mta-sts.old.test. v=STSv1; id=" + ps[2].ID + ";":             StatusStale,
			"TXT _smtp._tls.old.test. v=TLSRPTv1; rua=mailto:reports@old.test": StatusStale,
		}},
	} {
		got := check(tc.i)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v", cfg.Domains[tc.i].Domain, got)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %q is %q, want %q", cfg.Domains[tc.i].Domain, k, got[k], v)
			}
		}
	}

	// With a CNAME, the policy host must resolve like the target.
	cfg.Records = RecordsConfig{CNAME: "policy.host.example"}
	w.DNS.Add("policy.host.example. 300 IN A 192.0.2.10", "policy.host.example. 300 IN AAAA 2001:db8::10")
	if got := check(0)["CNAME mta-sts.good.test. policy.host.example."]; got != StatusPublished {
		t.Errorf("CNAME for good.test: %q", got)
	}
	if got := check(2)["CNAME mta-sts.old.test. policy.host.example."]; got != StatusStale {
		t.Errorf("CNAME for old.test: %q", got)
	}
}
