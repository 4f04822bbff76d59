package testworld

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// udpReadBuffer is the receive buffer asked for the DNS server's UDP
// socket.
const udpReadBuffer = 8 << 20

// maxCNAMEChain is how many CNAME hops the server follows inside its zone
// before it gives up and returns what it has.
const maxCNAMEChain = 8

// DNS is an authoritative DNS server for every name, serving UDP and TCP on
// the same loopback address. Its zone and its misbehaviour (rcodes, drops,
// delays, truncation) can be changed while it serves; all methods are safe
// for concurrent use.
//
// Names given to any method are case-insensitive and the trailing dot is
// optional.
type DNS struct {
	t    testing.TB
	addr string
	ctx  context.Context // canceled on cleanup; interrupts delays

	mu       sync.Mutex
	zone     map[string][]dns.RR // owner (lower-case FQDN) → records
	names    map[string]int      // name → owners in the zone at or below it
	rcodes   map[rrKey]int
	drops    map[rrKey]bool
	delays   map[rrKey]time.Duration
	ad       map[string]bool
	truncate bool
	queries  map[rrKey]int
	// capacity, if not 0, is how many queries the server works on at
	// once, each for hold; busy are those it works on, overflow those it
	// dropped (see SetCapacity).
	capacity, busy, overflow int
	hold                     time.Duration
}

// rrKey identifies a (name, type) pair; qtype dns.TypeANY stands for every
// type in the rule maps.
type rrKey struct {
	name  string
	qtype uint16
}

// NewDNS starts a DNS server on 127.0.0.1:<port> (UDP and TCP on the same
// port). It is shut down by t.Cleanup.
func NewDNS(t testing.TB) *DNS {
	t.Helper()
	d := &DNS{
		t:       t,
		zone:    map[string][]dns.RR{},
		names:   map[string]int{},
		rcodes:  map[rrKey]int{},
		drops:   map[rrKey]bool{},
		delays:  map[rrKey]time.Duration{},
		ad:      map[string]bool{},
		queries: map[rrKey]int{},
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.ctx = ctx
	pc, l, err := listenUDPAndTCP("127.0.0.1")
	if err != nil {
		cancel()
		t.Fatalf("testworld: starting DNS server: %v", err)
	}
	d.addr = l.Addr().String()
	if u, ok := pc.(*net.UDPConn); ok {
		// Bursts of queries from bulk checks must not be dropped: each
		// dropped query costs the client a retry after its timeout.
		growReadBuffer(u, udpReadBuffer)
	}

	udp := &dns.Server{PacketConn: pc, Handler: d}
	tcp := &dns.Server{Listener: l, Handler: d}
	var wg sync.WaitGroup
	for _, srv := range []*dns.Server{udp, tcp} {
		started := make(chan struct{})
		notify := sync.OnceFunc(func() { close(started) })
		srv.NotifyStartedFunc = notify
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer notify() // also when it fails to start
			if err := srv.ActivateAndServe(); err != nil {
				t.Errorf("testworld: DNS server on %s: %v", d.addr, err)
			}
		}()
		<-started
	}
	t.Cleanup(func() {
		cancel()
		for _, srv := range []*dns.Server{udp, tcp} {
			if err := srv.Shutdown(); err != nil {
				t.Errorf("testworld: stopping DNS server on %s: %v", d.addr, err)
			}
		}
		wg.Wait()
	})
	return d
}

// listenUDPAndTCP binds UDP and TCP sockets on the same free port of ip.
func listenUDPAndTCP(ip string) (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return nil, nil, fmt.Errorf("listen udp: %w", err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		lastErr = err
	}
	return nil, nil, fmt.Errorf("no port free for both udp and tcp: %w", lastErr)
}

// Addr returns the server address, "127.0.0.1:port", for UDP and TCP.
func (d *DNS) Addr() string { return d.addr }

// Add adds records given as zone-file lines with absolute names, for example
// "example.com. 300 IN MX 10 mx1.example.com.". TTL and class are optional
// (defaults 3600 and IN); relative names are taken relative to the root.
// A line that does not parse fails the test.
func (d *DNS) Add(rrs ...string) {
	d.t.Helper()
	parsed := make([]dns.RR, 0, len(rrs))
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			d.t.Fatalf("testworld: bad DNS record %q: %v", s, err)
		}
		if rr == nil {
			d.t.Fatalf("testworld: no DNS record in %q", s)
		}
		parsed = append(parsed, rr)
	}
	d.addRR(parsed...)
}

// addRR adds parsed records to the zone.
func (d *DNS) addRR(rrs ...dns.RR) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, rr := range rrs {
		name := canonical(rr.Header().Name)
		if len(d.zone[name]) == 0 {
			d.index(name, 1)
		}
		d.zone[name] = append(d.zone[name], rr)
	}
}

// TXT adds one TXT record at name made of the given character-strings, so
// that clients must join them (RFC 7208 §3.3 style). Strings longer than 255
// bytes are split into several character-strings. The TTL is 300.
func (d *DNS) TXT(name string, strs ...string) {
	var chunks []string
	for _, s := range strs {
		for len(s) > 255 {
			chunks = append(chunks, s[:255])
			s = s[255:]
		}
		chunks = append(chunks, s)
	}
	rr := &dns.TXT{
		Hdr: dns.RR_Header{Name: canonical(name), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300},
		Txt: chunks,
	}
	d.addRR(rr)
}

// Remove drops all records of qtype at name; dns.TypeANY drops every type.
func (d *DNS) Remove(name string, qtype uint16) {
	name = canonical(name)
	d.mu.Lock()
	defer d.mu.Unlock()
	var keep []dns.RR
	for _, rr := range d.zone[name] {
		if qtype != dns.TypeANY && rr.Header().Rrtype != qtype {
			keep = append(keep, rr)
		}
	}
	if len(keep) == 0 {
		if len(d.zone[name]) > 0 {
			d.index(name, -1)
		}
		delete(d.zone, name)
		return
	}
	d.zone[name] = keep
}

// SetRcode makes the server answer queries for (name, qtype) with rcode and
// no records, for example dns.RcodeServerFailure or dns.RcodeRefused.
// qtype dns.TypeANY applies to every type, and a rule for the exact type
// wins; dns.RcodeSuccess clears the rule.
func (d *DNS) SetRcode(name string, qtype uint16, rcode int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	setRule(d.rcodes, rrKey{canonical(name), qtype}, rcode)
}

// Drop makes the server never answer queries for (name, qtype), so clients
// time out. qtype dns.TypeANY applies to every type.
func (d *DNS) Drop(name string, qtype uint16) {
	d.mu.Lock()
	defer d.mu.Unlock()
	setRule(d.drops, rrKey{canonical(name), qtype}, true)
}

// Undrop removes a rule set by Drop.
func (d *DNS) Undrop(name string, qtype uint16) {
	d.mu.Lock()
	defer d.mu.Unlock()
	setRule(d.drops, rrKey{canonical(name), qtype}, false)
}

// SetDelay makes the server wait before answering queries for (name,
// qtype); qtype dns.TypeANY applies to every type, and a rule for the exact
// type wins. A zero delay clears the rule.
func (d *DNS) SetDelay(name string, qtype uint16, delay time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	setRule(d.delays, rrKey{canonical(name), qtype}, max(delay, 0))
}

// setRule sets m[k] to v, or removes the rule if v is the zero value.
func setRule[V comparable](m map[rrKey]V, k rrKey, v V) {
	var zero V
	if v == zero {
		delete(m, k)
		return
	}
	m[k] = v
}

// rule returns the rule for k, or else the one for every type of k.name.
func rule[V any](m map[rrKey]V, k rrKey) (V, bool) {
	if v, ok := m[k]; ok {
		return v, true
	}
	v, ok := m[rrKey{k.name, dns.TypeANY}]
	return v, ok
}

// SetCapacity makes the server behave like a resolver under load: it
// works on at most n queries at once, each for hold before it answers,
// and drops a query that arrives while n are in hand, as a resolver with
// a full queue does; the client sees a timeout. n = 0 lifts the limit.
func (d *DNS) SetCapacity(n int, hold time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.capacity, d.hold = n, hold
}

// Overflow returns how many queries SetCapacity's limit dropped.
func (d *DNS) Overflow() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.overflow
}

// SetAuthenticated sets (or clears) the AD bit on answers to queries for
// name, as a validating resolver would for DNSSEC-signed data.
func (d *DNS) SetAuthenticated(name string, ad bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ad[canonical(name)] = ad
}

// SetTruncate makes every UDP answer carry TC=1 and no records, forcing
// clients to retry over TCP.
func (d *DNS) SetTruncate(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.truncate = on
}

// Queries returns how many queries for (name, qtype) the server received,
// over UDP and TCP; qtype dns.TypeANY counts queries of every type.
func (d *DNS) Queries(name string, qtype uint16) int {
	name = canonical(name)
	d.mu.Lock()
	defer d.mu.Unlock()
	if qtype != dns.TypeANY {
		return d.queries[rrKey{name, qtype}]
	}
	n := 0
	for k, c := range d.queries {
		if k.name == name {
			n += c
		}
	}
	return n
}

// ServeDNS implements dns.Handler.
func (d *DNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	k := rrKey{canonical(q.Name), q.Qtype}

	d.mu.Lock()
	d.queries[k]++
	drop, _ := rule(d.drops, k)
	delay, _ := rule(d.delays, k)
	limited := d.capacity > 0
	switch {
	case drop:
	case limited && d.busy >= d.capacity:
		d.overflow++
		drop = true
	case limited:
		d.busy++
		delay += d.hold
	}
	d.mu.Unlock()

	if drop {
		return
	}
	if limited {
		defer func() {
			d.mu.Lock()
			d.busy--
			d.mu.Unlock()
		}()
	}
	if !sleep(d.ctx, delay) {
		return
	}

	_, isUDP := w.RemoteAddr().(*net.UDPAddr)
	m := d.answer(req, isUDP)
	if err := w.WriteMsg(m); err != nil && !errors.Is(err, net.ErrClosed) {
		d.t.Logf("testworld: DNS answer to %s: %v", w.RemoteAddr(), err)
	}
}

// answer builds the reply to req from the zone and the rules.
func (d *DNS) answer(req *dns.Msg, isUDP bool) *dns.Msg {
	q := req.Question[0]
	name := canonical(q.Name)
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = req.RecursionDesired

	d.mu.Lock()
	if rcode, forced := rule(d.rcodes, rrKey{name, q.Qtype}); forced {
		m.Rcode = rcode
	} else {
		m.Answer, m.Rcode = d.lookup(q.Name, q.Qtype)
		m.AuthenticatedData = d.ad[name]
	}
	truncate := d.truncate
	d.mu.Unlock()

	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(max(opt.UDPSize(), dns.MinMsgSize), opt.Do())
		size = int(max(opt.UDPSize(), dns.MinMsgSize))
	}
	if isUDP {
		if truncate {
			m.Truncated = true
			m.Answer, m.Ns = nil, nil
		} else {
			m.Truncate(size)
		}
	}
	return m
}

// lookup resolves qname/qtype in the zone, following CNAMEs inside the zone.
// It returns the answer records and the rcode. d.mu must be held.
func (d *DNS) lookup(qname string, qtype uint16) ([]dns.RR, int) {
	var answer []dns.RR
	owner := dns.Fqdn(qname) // the spelling used in the answer
	for range maxCNAMEChain + 1 {
		name := canonical(owner)
		if !d.exists(name) {
			return answer, dns.RcodeNameError
		}
		rrs := d.zone[name]
		if qtype != dns.TypeCNAME && qtype != dns.TypeANY {
			if cname := findCNAME(rrs); cname != nil {
				answer = append(answer, withOwner(cname, owner))
				owner = cname.Target
				continue
			}
		}
		for _, rr := range rrs {
			if qtype == dns.TypeANY || rr.Header().Rrtype == qtype {
				answer = append(answer, withOwner(rr, owner))
			}
		}
		break
	}
	return answer, dns.RcodeSuccess
}

// exists reports whether name has records or descendants. d.mu must be held.
func (d *DNS) exists(name string) bool {
	return d.names[name] > 0
}

// index adds delta to the count of owners at or below name and each of
// its ancestors, so that exists needs no scan of the zone. d.mu must be
// held.
func (d *DNS) index(owner string, delta int) {
	for off, end := 0, false; !end; off, end = dns.NextLabel(owner, off) {
		n := owner[off:]
		if d.names[n] += delta; d.names[n] <= 0 {
			delete(d.names, n)
		}
	}
}

// findCNAME returns the CNAME record among rrs, if any.
func findCNAME(rrs []dns.RR) *dns.CNAME {
	for _, rr := range rrs {
		if c, ok := rr.(*dns.CNAME); ok {
			return c
		}
	}
	return nil
}

// withOwner returns a copy of rr with the owner name spelt as owner, so the
// answer echoes the case the client asked with.
func withOwner(rr dns.RR, owner string) dns.RR {
	c := dns.Copy(rr)
	c.Header().Name = owner
	return c
}

// canonical returns name lower-cased and fully qualified.
func canonical(name string) string {
	return strings.ToLower(dns.Fqdn(name))
}
