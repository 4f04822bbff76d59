package dnsx

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// TestCNAMEChasedByServer checks a chain the server put in its answer: it
// is used without asking for the target again.
func TestCNAMEChasedByServer(t *testing.T) {
	d, c := newWorld(t)
	d.Add(
		"_mta-sts.example.com. CNAME _mta-sts.Provider.example.",
		"_mta-sts.provider.example. CNAME sts.provider.example.",
		"sts.provider.example. TXT \"v=STSv1; id=1;\"",
		"dangling.example. CNAME nowhere.example.",
		"nodata.example. CNAME host.example.",
		"host.example. A 192.0.2.1",
	)
	d.SetAuthenticated("_mta-sts.example.com", true)

	got, res, err := c.TXT(t.Context(), "_mta-sts.example.com")
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Authenticated: true, CNAMEs: []string{"_mta-sts.provider.example", "sts.provider.example"}, Server: d.Addr(), TTL: time.Hour}
	if diff := cmp.Diff(want, res); diff != "" || len(got) != 1 || got[0] != "v=STSv1; id=1;" {
		t.Errorf("TXT = %q, Result diff (-want +got):\n%s", got, diff)
	}
	if n := d.Queries("sts.provider.example", dns.TypeANY); n != 0 {
		t.Errorf("target asked %d times, want 0", n)
	}

	// RFC 6604 §3: the rcode is about the end of the chain.
	_, res, err = c.TXT(t.Context(), "dangling.example")
	if !errors.Is(err, ErrNXDomain) || !strings.Contains(err.Error(), "nowhere.example") {
		t.Errorf("dangling: err = %v, want NXDOMAIN at nowhere.example", err)
	}
	if !cmp.Equal(res.CNAMEs, []string{"nowhere.example"}) {
		t.Errorf("dangling: CNAMEs = %q", res.CNAMEs)
	}
	if _, _, err := c.TXT(t.Context(), "nodata.example"); !errors.Is(err, ErrNoData) {
		t.Errorf("nodata: err = %v, want NODATA", err)
	}

	// A CNAME query does not follow the alias.
	msg, res, err := c.Query(t.Context(), "dangling.example", dns.TypeCNAME)
	if err != nil || len(res.CNAMEs) != 0 || len(msg.Answer) != 1 || msg.Answer[0].(*dns.CNAME).Target != "nowhere.example." {
		t.Errorf("Query(CNAME) = %v, %+v, %v", msg, res, err)
	}
}

// cnameServer answers like an authoritative server that does not chase
// CNAMEs: each name in zone gets only its own records. A name listed in soa
// gets NODATA with the SOA of its zone.
func cnameServer(t *testing.T, zone map[string][]string, ad map[string]bool) string {
	return serveUDP(t, func(w dns.ResponseWriter, req *dns.Msg) {
		q := req.Question[0]
		rrs, ok := zone[strings.ToLower(q.Name)]
		if !ok {
			reply(t, w, req, dns.RcodeNameError)
			return
		}
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		m.AuthenticatedData = ad[strings.ToLower(q.Name)]
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Errorf("bad record %q: %v", s, err)
				return
			}
			if rr.Header().Rrtype == q.Qtype || rr.Header().Rrtype == dns.TypeCNAME {
				m.Answer = append(m.Answer, rr)
			}
		}
		_ = w.WriteMsg(m)
	})
}

// TestCNAMERequeried checks that when the server gives only the CNAME, the
// target is asked for.
func TestCNAMERequeried(t *testing.T) {
	zone := map[string][]string{
		"a.example.":       {"a.example. CNAME B.other.example."},
		"b.other.example.": {"b.other.example. CNAME c.third.example."},
		"c.third.example.": {`c.third.example. TXT "found"`},
		"d.example.":       {"d.example. CNAME e.example."},
		"e.example.":       {"e.example. A 192.0.2.1"},
		"f.example.":       {"f.example. CNAME gone.example."},
		// A loop across queries.
		"loop1.example.": {"loop1.example. CNAME loop2.example."},
		"loop2.example.": {"loop2.example. CNAME LOOP1.example."},
	}
	ad := map[string]bool{"a.example.": true, "b.other.example.": true, "c.third.example.": false}
	c := newTestClient(t, cnameServer(t, zone, ad))

	got, res, err := c.TXT(t.Context(), "a.example")
	if err != nil || len(got) != 1 || got[0] != "found" {
		t.Fatalf("TXT = %q, %v", got, err)
	}
	if !cmp.Equal(res.CNAMEs, []string{"b.other.example", "c.third.example"}) {
		t.Errorf("CNAMEs = %q", res.CNAMEs)
	}
	if res.Authenticated {
		t.Errorf("Authenticated with an unauthenticated link in the chain")
	}

	tests := []struct {
		name string
		want error
	}{
		{"d.example", ErrNoData},
		{"f.example", ErrNXDomain},
		{"loop1.example", ErrCNAMELoop},
	}
	for _, tt := range tests {
		_, res, err := c.TXT(t.Context(), tt.name)
		if !errors.Is(err, tt.want) {
			t.Errorf("TXT(%s): err = %v, want %v", tt.name, err, tt.want)
		}
		if tt.want == ErrCNAMELoop && (!IsTemporary(err) || !errors.Is(err, ErrServerFailure) || !strings.Contains(err.Error(), "loop1.example → loop2.example → loop1.example")) {
			t.Errorf("loop: %v, CNAMEs %q", err, res.CNAMEs)
		}
	}
}

// TestCNAMENoDataProved checks that a NODATA reply after a chased CNAME,
// proved by the SOA of the target's zone, is not asked again.
func TestCNAMENoDataProved(t *testing.T) {
	var queries atomic.Int32
	addr := serveUDP(t, func(w dns.ResponseWriter, req *dns.Msg) {
		queries.Add(1)
		m := new(dns.Msg)
		m.SetReply(req)
		m.RecursionAvailable = true
		cname, _ := dns.NewRR("alias.example. CNAME host.zone.example.")
		soa, _ := dns.NewRR("zone.example. SOA ns.zone.example. admin.zone.example. 1 7200 900 1209600 300")
		m.Answer, m.Ns = []dns.RR{cname}, []dns.RR{soa}
		_ = w.WriteMsg(m)
	})
	c := newTestClient(t, addr)
	_, res, err := c.TXT(t.Context(), "alias.example")
	if !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), "host.zone.example") {
		t.Errorf("err = %v, want NODATA at host.zone.example", err)
	}
	if queries.Load() != 1 || !cmp.Equal(res.CNAMEs, []string{"host.zone.example"}) {
		t.Errorf("%d queries, CNAMEs %q; want 1 query", queries.Load(), res.CNAMEs)
	}
}

func TestCNAMELimits(t *testing.T) {
	d, c := newWorld(t)
	// An in-answer loop.
	d.Add("loop1.example. CNAME loop2.example.", "loop2.example. CNAME loop1.example.")
	// Chains of MaxCNAMEs (allowed) and MaxCNAMEs+1 (too long) aliases,
	// longer than the server chases in one answer.
	for _, n := range []int{MaxCNAMEs, MaxCNAMEs + 1} {
		for i := range n {
			d.Add(fmt.Sprintf("c%d.chain%d.example. CNAME c%d.chain%d.example.", i, n, i+1, n))
		}
		d.Add(fmt.Sprintf("c%d.chain%d.example. TXT end", n, n))
	}

	_, _, err := c.TXT(t.Context(), "loop1.example")
	if !errors.Is(err, ErrCNAMELoop) || !IsTemporary(err) {
		t.Errorf("loop: err = %v, want CNAME loop", err)
	}
	got, res, err := c.TXT(t.Context(), fmt.Sprintf("c0.chain%d.example", MaxCNAMEs))
	if err != nil || len(got) != 1 || len(res.CNAMEs) != MaxCNAMEs {
		t.Errorf("longest chain: %q, %d CNAMEs, %v", got, len(res.CNAMEs), err)
	}
	_, _, err = c.TXT(t.Context(), fmt.Sprintf("c0.chain%d.example", MaxCNAMEs+1))
	if !errors.Is(err, ErrCNAMELoop) || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("too long: err = %v, want CNAME chain too long", err)
	}
}
