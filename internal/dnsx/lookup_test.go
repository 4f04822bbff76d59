package dnsx

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

func TestTXT(t *testing.T) {
	d, c := newWorld(t)
	long := strings.Repeat("a", 300) // split into two character-strings
	d.TXT("_mta-sts.single.example", "v=STSv1; id=20240101;")
	d.TXT("_mta-sts.split.example", "v=STSv1; ", "id=2024", "0101;")
	d.TXT("_mta-sts.many.example", "v=STSv1; id=1;")
	d.TXT("_mta-sts.many.example", "v=spf1 -all")
	d.TXT("long.example", long)
	// testworld takes character-strings in presentation format, with
	// escapes; the client must return the raw bytes.
	d.TXT("escapes.example", `quote\" back\\slash`, "\x00\xff;é", `\059\255`)
	d.Add(`CASE.example. TXT "Mixed Case"`)

	tests := []struct {
		name string
		want []string
	}{
		{"_mta-sts.single.example", []string{"v=STSv1; id=20240101;"}},
		// RFC 8461 §3.1: several strings are joined with no separator.
		{"_mta-sts.split.example", []string{"v=STSv1; id=20240101;"}},
		{"_mta-sts.many.example", []string{"v=STSv1; id=1;", "v=spf1 -all"}},
		{"long.example", []string{long}},
		{"escapes.example", []string{"quote\" back\\slash\x00\xff;é;\xff"}},
		// Names are case-insensitive and may be absolute.
		{"_MTA-STS.Single.Example.", []string{"v=STSv1; id=20240101;"}},
		{"case.example", []string{"Mixed Case"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, res, err := c.TXT(t.Context(), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("TXT (-want +got):\n%s", diff)
			}
			if res.Server != d.Addr() || res.Authenticated || len(res.CNAMEs) != 0 {
				t.Errorf("Result = %+v", res)
			}
			got2, err := c.LookupTXT(t.Context(), tt.name)
			if err != nil || !cmp.Equal(got, got2) {
				t.Errorf("LookupTXT = %q, %v; want %q", got2, err, got)
			}
		})
	}
}

func TestUnescapeTXT(t *testing.T) {
	tests := map[string]string{
		"":                  "",
		"plain":             "plain",
		`a\"b`:              `a"b`,
		`a\\b`:              `a\b`,
		`\000\255\;`:        "\x00\xff;",
		`\256`:              "256", // not a byte: the backslash escapes "2"
		`\12`:               "12",
		`trailing\`:         `trailing\`,
		`v=STSv1\; id=1\;`:  "v=STSv1; id=1;",
		`\195\169t\195\169`: "été",
	}
	for in, want := range tests {
		if got := unescapeTXT(in); got != want {
			t.Errorf("unescapeTXT(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMX(t *testing.T) {
	d, c := newWorld(t)
	d.Add(
		"example.com. MX 20 mx3.example.com.",
		"example.com. MX 10 MX2.Example.com.",
		"example.com. MX 10 mx1.example.com.",
		"example.com. MX 30 backup.example.net.",
		// RFC 7505: null MX.
		"null.example. MX 0 .",
	)
	tests := []struct {
		name string
		want []*net.MX
	}{
		{"example.com", []*net.MX{
			{Host: "mx1.example.com.", Pref: 10},
			{Host: "mx2.example.com.", Pref: 10},
			{Host: "mx3.example.com.", Pref: 20},
			{Host: "backup.example.net.", Pref: 30},
		}},
		{"null.example", []*net.MX{{Host: ".", Pref: 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.LookupMX(t.Context(), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("LookupMX (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := c.LookupMX(t.Context(), "nx.example"); !errors.Is(err, ErrNXDomain) {
		t.Errorf("LookupMX(nx.example): err = %v, want NXDOMAIN", err)
	}
}

func TestIPs(t *testing.T) {
	d, c := newWorld(t)
	d.Add(
		"both.example. A 192.0.2.1",
		"both.example. AAAA 2001:db8::1",
		"v4.example. A 192.0.2.2",
		"v6.example. AAAA 2001:db8::2",
		"v6fail.example. A 192.0.2.3",
		"v4fail.example. TXT x",
		"v4drop.example. AAAA 2001:db8::4",
		"none.example. TXT x",
	)
	d.SetRcode("v6fail.example", dns.TypeAAAA, dns.RcodeServerFailure)
	d.SetRcode("v4fail.example", dns.TypeA, dns.RcodeServerFailure)
	d.Drop("v4drop.example", dns.TypeA)

	ips, res, err := c.IPs(t.Context(), "both.example", dns.TypeAAAA)
	if err != nil || len(ips) != 1 || !ips[0].Equal(net.ParseIP("2001:db8::1")) || res.Server != d.Addr() {
		t.Errorf("IPs(AAAA) = %v, %+v, %v", ips, res, err)
	}
	if _, _, err := c.IPs(t.Context(), "both.example", dns.TypeMX); err == nil || IsTemporary(err) || IsNotFound(err) {
		t.Errorf("IPs(MX): err = %v, want a usage error", err)
	}

	tests := []struct {
		host     string
		want     []string
		notFound bool // when want is nil: the error kind
	}{
		{"both.example", []string{"192.0.2.1", "2001:db8::1"}, false},
		{"v4.example", []string{"192.0.2.2"}, false},
		{"v6.example", []string{"2001:db8::2"}, false},
		// One family is enough, even if the other failed.
		{"v6fail.example", []string{"192.0.2.3"}, false},
		{"v4drop.example", []string{"2001:db8::4"}, false},
		// Not found only if both are; otherwise temporary.
		{"v4fail.example", nil, false},
		{"none.example", nil, true},
		{"nx.example", nil, true},
		// Address literals are returned as they are, as package net does.
		{"192.0.2.9", []string{"192.0.2.9"}, false},
		{"2001:db8::9", []string{"2001:db8::9"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			got, err := c.LookupHost(t.Context(), tt.host)
			if tt.want == nil {
				if err == nil || IsNotFound(err) != tt.notFound || IsTemporary(err) == tt.notFound {
					t.Errorf("LookupHost = %v, %v; want error with notFound %v", got, err, tt.notFound)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("LookupHost (-want +got):\n%s", diff)
			}
		})
	}
	if n := d.Queries("192.0.2.9", dns.TypeANY); n != 0 {
		t.Errorf("an address literal was looked up %d times", n)
	}
}

func TestTLSA(t *testing.T) {
	d, c := newWorld(t)
	d.Add("_25._tcp.mx.example. TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	d.SetAuthenticated("_25._tcp.mx.example", true)
	d.Add("mx2.example. A 192.0.2.1")
	d.SetAuthenticated("_25._tcp.mx2.example", true)

	got, res, err := c.TLSA(t.Context(), "_25._tcp.mx.example")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Usage != 3 || got[0].Selector != 1 || got[0].MatchingType != 1 || !res.Authenticated {
		t.Errorf("TLSA = %v, %+v", got, res)
	}
	// An authenticated denial tells DANE there are no TLSA records; the
	// Result of a not-found error says so.
	_, res, err = c.TLSA(t.Context(), "_25._tcp.mx2.example")
	if !IsNotFound(err) || !res.Authenticated {
		t.Errorf("TLSA(mx2) = %+v, %v; want authenticated denial", res, err)
	}
}

// TestAuthenticated checks that the AD bit of the reply is exposed
// (RFC 6840 §5.7).
func TestAuthenticated(t *testing.T) {
	d, c := newWorld(t)
	d.TXT("signed.example", "x")
	d.TXT("unsigned.example", "x")
	d.SetAuthenticated("signed.example", true)
	for name, want := range map[string]bool{"signed.example": true, "unsigned.example": false} {
		_, res, err := c.TXT(t.Context(), name)
		if err != nil || res.Authenticated != want {
			t.Errorf("TXT(%s): Authenticated = %v, %v; want %v", name, res.Authenticated, err, want)
		}
	}
}

// TestQueryFormat checks the query on the wire: RD and AD set, EDNS0 with a
// 1232-byte buffer and DO clear, lower-case A-label question.
func TestQueryFormat(t *testing.T) {
	var mu sync.Mutex
	var got *dns.Msg
	addr := serveUDP(t, func(w dns.ResponseWriter, req *dns.Msg) {
		mu.Lock()
		got = req.Copy()
		mu.Unlock()
		reply(t, w, req, dns.RcodeSuccess, `xn--bcher-kva.example. TXT "ok"`)
	})
	c := newTestClient(t, addr)
	if _, _, err := c.TXT(t.Context(), "BÜCHER.example"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	opt := got.IsEdns0()
	switch {
	case !got.RecursionDesired, !got.AuthenticatedData, got.CheckingDisabled:
		t.Errorf("header flags: RD %v AD %v CD %v", got.RecursionDesired, got.AuthenticatedData, got.CheckingDisabled)
	case opt == nil:
		t.Errorf("no EDNS0 OPT record")
	case opt.UDPSize() != 1232 || opt.Do():
		t.Errorf("EDNS0 bufsize %d DO %v, want 1232 and false", opt.UDPSize(), opt.Do())
	case len(got.Question) != 1 || got.Question[0].Name != "xn--bcher-kva.example." || got.Question[0].Qtype != dns.TypeTXT:
		t.Errorf("question %v", got.Question)
	}
}

// TestTCPFallback checks that a truncated UDP answer is asked again over
// TCP (RFC 7766 §5).
func TestTCPFallback(t *testing.T) {
	d, c := newWorld(t)
	d.SetTruncate(true)
	d.TXT("big.example", "v=STSv1; id=1;")
	got, err := c.LookupTXT(t.Context(), "big.example")
	if err != nil || len(got) != 1 || got[0] != "v=STSv1; id=1;" {
		t.Fatalf("LookupTXT = %q, %v", got, err)
	}
	if n := d.Queries("big.example", dns.TypeTXT); n != 2 {
		t.Errorf("server saw %d queries, want 2 (UDP then TCP)", n)
	}

	// A large answer that does not fit 1232 bytes is truncated by the
	// server itself.
	d.SetTruncate(false)
	for i := range 40 {
		d.TXT("many.example", strings.Repeat(string(rune('a'+i%26)), 100))
	}
	got, err = c.LookupTXT(t.Context(), "many.example")
	if err != nil || len(got) != 40 {
		t.Errorf("LookupTXT(many) = %d records, %v; want 40", len(got), err)
	}
}

// TestRetries checks that a failed server is skipped for the next one.
func TestRetries(t *testing.T) {
	good, _ := newWorld(t)
	good.TXT("example.com", "ok")
	silent, _ := newWorld(t)
	silent.Drop("example.com", dns.TypeTXT)
	failing, _ := newWorld(t)
	failing.SetRcode("example.com", dns.TypeTXT, dns.RcodeServerFailure)

	tests := []struct {
		name    string
		servers []string
	}{
		{"dead first", []string{deadAddr(t), good.Addr()}},
		{"silent first", []string{silent.Addr(), good.Addr()}},
		{"servfail first", []string{failing.Addr(), good.Addr()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{Servers: tt.servers, Timeout: testTimeout, Attempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			got, res, err := c.TXT(t.Context(), "example.com")
			if err != nil || len(got) != 1 || got[0] != "ok" {
				t.Fatalf("TXT = %q, %v", got, err)
			}
			if res.Server != good.Addr() {
				t.Errorf("Server = %s, want %s", res.Server, good.Addr())
			}
		})
	}

	// Attempts rounds over the list: both servers are asked twice.
	before := silent.Queries("example.com", dns.TypeTXT)
	c := newTestClient(t, silent.Addr(), failing.Addr())
	_, _, err := c.TXT(t.Context(), "example.com")
	if !errors.Is(err, ErrServerFailure) {
		t.Errorf("err = %v, want the SERVFAIL of the second server", err)
	}
	if n := silent.Queries("example.com", dns.TypeTXT) - before; n != testAttempts {
		t.Errorf("silent server saw %d queries, want %d", n, testAttempts)
	}
}

// TestConcurrent runs lookups in parallel; run with -race.
func TestConcurrent(t *testing.T) {
	d, c := newWorld(t)
	d.TXT("example.com", "ok")
	d.Add("example.com. MX 10 mx.example.com.", "mx.example.com. A 192.0.2.1")
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.LookupTXT(t.Context(), "example.com"); err != nil {
				t.Error(err)
			}
			if _, err := c.LookupMX(t.Context(), "example.com"); err != nil {
				t.Error(err)
			}
			if _, err := c.LookupHost(t.Context(), "mx.example.com"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// Result.TTL: the smallest TTL of the answer and of the CNAMEs followed
// (RFC 1035 §3.2.1); for a negative answer the SOA's negative caching
// time (RFC 2308 §5); 0 for a TTL over 2^31-1 (RFC 2181 §8).
func TestResultTTL(t *testing.T) {
	d, c := newWorld(t)
	d.Add(
		"ttl.example. 300 MX 10 a.ttl.example.",
		"ttl.example. 60 MX 20 b.ttl.example.",
		"alias.example. 30 CNAME ttl.example.",
		"huge.example. 2147483648 MX 10 a.huge.example.",
	)
	for name, want := range map[string]time.Duration{
		"ttl.example": time.Minute, "alias.example": 30 * time.Second, "huge.example": 0,
	} {
		if _, res, err := c.MX(t.Context(), name); err != nil || res.TTL != want {
			t.Errorf("MX %s: TTL %v, err %v; want %v", name, res.TTL, err, want)
		}
	}

	soa := func(ttl, minimum uint32) dns.HandlerFunc {
		return func(w dns.ResponseWriter, q *dns.Msg) {
			m := new(dns.Msg)
			m.SetRcode(q, dns.RcodeNameError)
			m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
				Ns: "ns.example.", Mbox: "hostmaster.example.", Minttl: minimum}}
			w.WriteMsg(m)
		}
	}
	for _, tc := range []struct {
		ttl, minimum uint32
		want         time.Duration
	}{{3600, 120, 2 * time.Minute}, {90, 3600, 90 * time.Second}} {
		c := newTestClient(t, serveUDP(t, soa(tc.ttl, tc.minimum)))
		if _, res, err := c.MX(t.Context(), "nx.example"); !errors.Is(err, ErrNXDomain) || res.TTL != tc.want {
			t.Errorf("SOA TTL %d MINIMUM %d: TTL %v, err %v; want %v and NXDOMAIN", tc.ttl, tc.minimum, res.TTL, err, tc.want)
		}
	}
}
