package testworld

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// exchange sends one question to d over network ("udp" or "tcp").
func exchange(d *DNS, network, name string, qtype uint16, edns bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if edns {
		m.SetEdns0(4096, true)
	}
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, d.Addr())
	return r, err
}

// query is exchange that fails the test on error.
func query(t *testing.T, d *DNS, network, name string, qtype uint16, edns bool) *dns.Msg {
	t.Helper()
	r, err := exchange(d, network, name, qtype, edns)
	if err != nil {
		t.Fatalf("%s query %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return r
}

// answers renders the answer section without TTLs, for comparison.
func answers(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		s := rr.String()
		h := rr.Header().String()
		out = append(out, rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype]+" "+strings.TrimPrefix(s, h))
	}
	return out
}

func TestDNSAnswers(t *testing.T) {
	d := NewDNS(t)
	d.Add(
		"example.com. 300 IN MX 10 mx1.example.com.",
		"example.com MX 20 mx2.example.com", // relative to root, no TTL
		"mx1.example.com. A 127.0.0.10",
		"alias.example.com. CNAME Target.example.com.",
		"target.example.com. A 127.0.0.11",
		"deep.sub.example.org. A 127.0.0.12",
		"loop1.example.net. CNAME loop2.example.net.",
		"loop2.example.net. CNAME loop1.example.net.",
		"dangling.example.net. CNAME nowhere.example.net.",
	)
	tests := []struct {
		name  string
		qtype uint16
		rcode int
		want  []string
	}{
		{"example.com.", dns.TypeMX, dns.RcodeSuccess, []string{
			"example.com. MX 10 mx1.example.com.",
			"example.com. MX 20 mx2.example.com.",
		}},
		{"EXAMPLE.com.", dns.TypeMX, dns.RcodeSuccess, []string{ // echoes the asked case
			"EXAMPLE.com. MX 10 mx1.example.com.",
			"EXAMPLE.com. MX 20 mx2.example.com.",
		}},
		{"example.com.", dns.TypeA, dns.RcodeSuccess, nil},        // NODATA
		{"sub.example.org.", dns.TypeA, dns.RcodeSuccess, nil},    // empty non-terminal
		{"nope.example.com.", dns.TypeA, dns.RcodeNameError, nil}, // NXDOMAIN
		{"alias.example.com.", dns.TypeA, dns.RcodeSuccess, []string{
			"alias.example.com. CNAME Target.example.com.",
			"Target.example.com. A 127.0.0.11",
		}},
		{"alias.example.com.", dns.TypeCNAME, dns.RcodeSuccess, []string{
			"alias.example.com. CNAME Target.example.com.",
		}},
		{"alias.example.com.", dns.TypeMX, dns.RcodeSuccess, []string{
			"alias.example.com. CNAME Target.example.com.",
		}},
		{"dangling.example.net.", dns.TypeA, dns.RcodeNameError, []string{
			"dangling.example.net. CNAME nowhere.example.net.",
		}},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			r := query(t, d, network, tt.name, tt.qtype, false)
			if r.Rcode != tt.rcode || !r.Authoritative {
				t.Errorf("%s %s %s: rcode %s aa %v, want %s aa true", network, tt.name,
					dns.TypeToString[tt.qtype], dns.RcodeToString[r.Rcode], r.Authoritative, dns.RcodeToString[tt.rcode])
			}
			if diff := cmp.Diff(tt.want, answers(r)); diff != "" {
				t.Errorf("%s %s %s: answer (-want +got):\n%s", network, tt.name, dns.TypeToString[tt.qtype], diff)
			}
		}
	}

	r := query(t, d, "udp", "loop1.example.net.", dns.TypeA, false)
	if len(r.Answer) != maxCNAMEChain+1 {
		t.Errorf("CNAME loop: %d answers, want %d", len(r.Answer), maxCNAMEChain+1)
	}
	if got := d.Queries("Example.COM", dns.TypeMX); got != 4 {
		t.Errorf("Queries(example.com, MX) = %d, want 4", got)
	}
	if got := d.Queries("example.com.", dns.TypeANY); got != 6 {
		t.Errorf("Queries(example.com, ANY) = %d, want 6", got)
	}
}

func TestDNSRemove(t *testing.T) {
	d := NewDNS(t)
	d.Add("a.example. A 127.0.0.1", "a.example. AAAA ::1", "a.example. TXT x")
	d.Remove("A.example", dns.TypeA)
	if r := query(t, d, "udp", "a.example.", dns.TypeA, false); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("after Remove(A): %v", r)
	}
	if r := query(t, d, "udp", "a.example.", dns.TypeAAAA, false); len(r.Answer) != 1 {
		t.Errorf("Remove(A) removed AAAA: %v", r)
	}
	d.Remove("a.example", dns.TypeANY)
	if r := query(t, d, "udp", "a.example.", dns.TypeAAAA, false); r.Rcode != dns.RcodeNameError {
		t.Errorf("after Remove(ANY): %v", r)
	}
}

func TestDNSTXT(t *testing.T) {
	d := NewDNS(t)
	long := strings.Repeat("x", 300)
	d.TXT("_mta-sts.example.com", "v=STSv1; ", "id=1;")
	d.TXT("long.example.com", long)
	d.Add(`multi.example.com. TXT "a" "b c"`)
	for _, network := range []string{"udp", "tcp"} {
		r := query(t, d, network, "_mta-sts.example.com.", dns.TypeTXT, false)
		if len(r.Answer) != 1 {
			t.Fatalf("%s: answer %v", network, r.Answer)
		}
		if diff := cmp.Diff([]string{"v=STSv1; ", "id=1;"}, r.Answer[0].(*dns.TXT).Txt); diff != "" {
			t.Errorf("%s: TXT strings (-want +got):\n%s", network, diff)
		}
		r = query(t, d, network, "long.example.com.", dns.TypeTXT, false)
		if got := r.Answer[0].(*dns.TXT).Txt; len(got) != 2 || len(got[0]) != 255 || got[0]+got[1] != long {
			t.Errorf("%s: long TXT split as %d strings", network, len(got))
		}
		r = query(t, d, network, "multi.example.com.", dns.TypeTXT, false)
		if diff := cmp.Diff([]string{"a", "b c"}, r.Answer[0].(*dns.TXT).Txt); diff != "" {
			t.Errorf("%s: quoted TXT (-want +got):\n%s", network, diff)
		}
	}
}

func TestDNSRules(t *testing.T) {
	d := NewDNS(t)
	d.Add("ok.example. A 127.0.0.1", "ok.example. MX 0 .")

	d.SetRcode("ok.example", dns.TypeA, dns.RcodeServerFailure)
	if r := query(t, d, "udp", "ok.example.", dns.TypeA, false); r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
		t.Errorf("SetRcode(A, SERVFAIL): %v", r)
	}
	if r := query(t, d, "udp", "ok.example.", dns.TypeMX, false); r.Rcode != dns.RcodeSuccess {
		t.Errorf("SetRcode(A) affected MX: %v", r)
	}
	d.SetRcode("ok.example", dns.TypeANY, dns.RcodeRefused)
	if r := query(t, d, "tcp", "ok.example.", dns.TypeMX, false); r.Rcode != dns.RcodeRefused {
		t.Errorf("SetRcode(ANY, REFUSED): %v", r)
	}
	d.SetRcode("ok.example", dns.TypeANY, dns.RcodeSuccess)
	d.SetRcode("ok.example", dns.TypeA, dns.RcodeSuccess)
	if r := query(t, d, "udp", "ok.example.", dns.TypeA, false); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("cleared rcode: %v", r)
	}

	d.Drop("ok.example", dns.TypeMX)
	m := new(dns.Msg)
	m.SetQuestion("ok.example.", dns.TypeMX)
	c := &dns.Client{Timeout: 100 * time.Millisecond}
	var nerr net.Error
	if _, _, err := c.Exchange(m, d.Addr()); !errors.As(err, &nerr) || !nerr.Timeout() {
		t.Errorf("Drop: got err %v, want timeout", err)
	}
	d.Undrop("ok.example", dns.TypeMX)
	if r := query(t, d, "udp", "ok.example.", dns.TypeMX, false); len(r.Answer) != 1 {
		t.Errorf("Undrop: %v", r)
	}

	d.SetDelay("ok.example", dns.TypeANY, 150*time.Millisecond)
	start := time.Now()
	query(t, d, "udp", "ok.example.", dns.TypeA, false)
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("SetDelay: answered after %v", el)
	}
	d.SetDelay("ok.example", dns.TypeANY, 0)

	d.SetAuthenticated("OK.example.", true)
	if r := query(t, d, "udp", "ok.example.", dns.TypeA, true); !r.AuthenticatedData {
		t.Errorf("SetAuthenticated: AD not set")
	}
	if r := query(t, d, "udp", "other.example.", dns.TypeA, true); r.AuthenticatedData {
		t.Errorf("SetAuthenticated leaked to other names")
	}
}

func TestDNSEDNSAndTruncation(t *testing.T) {
	d := NewDNS(t)
	d.Add("ok.example. A 127.0.0.1")
	if r := query(t, d, "udp", "ok.example.", dns.TypeA, true); r.IsEdns0() == nil {
		t.Errorf("no OPT in answer to EDNS0 query")
	}
	if r := query(t, d, "udp", "ok.example.", dns.TypeA, false); r.IsEdns0() != nil {
		t.Errorf("OPT in answer to plain query")
	}

	d.SetTruncate(true)
	r := query(t, d, "udp", "ok.example.", dns.TypeA, false)
	if !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("SetTruncate: tc=%v answer=%v", r.Truncated, r.Answer)
	}
	r = query(t, d, "tcp", "ok.example.", dns.TypeA, false)
	if r.Truncated || len(r.Answer) != 1 {
		t.Errorf("SetTruncate over TCP: tc=%v answer=%v", r.Truncated, r.Answer)
	}
	d.SetTruncate(false)

	// An answer bigger than 512 bytes is truncated over plain UDP.
	for i := range 40 {
		d.TXT("big.example", strings.Repeat(string(rune('a'+i%26)), 40))
	}
	if r := query(t, d, "udp", "big.example.", dns.TypeTXT, false); !r.Truncated {
		t.Errorf("big answer over UDP not truncated")
	}
	if r := query(t, d, "tcp", "big.example.", dns.TypeTXT, false); len(r.Answer) != 40 {
		t.Errorf("big answer over TCP: %d records", len(r.Answer))
	}
}

func TestDNSConcurrent(t *testing.T) {
	d := NewDNS(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			name := dns.Fqdn(strings.Repeat("n", i+1) + ".example")
			d.Add(name + " A 127.0.0.1")
			r, err := exchange(d, "udp", name, dns.TypeA, false)
			if err != nil || len(r.Answer) != 1 {
				t.Errorf("%s: %v %v", name, r, err)
			}
			d.Remove(name, dns.TypeANY)
		})
	}
	wg.Wait()
}
