package policyhost

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// dns01TTL caps the TTL of ACME challenge records: a new token must not
// wait behind a cached old one when an order is retried.
const dns01TTL = 60 * time.Second

// dns01Provider is the libdns provider that certmagic's DNS-01 solver
// uses: it adds and removes the _acme-challenge TXT records (RFC 8555
// §8.4) by RFC 2136 dynamic update on the primary server of a
// DNSUpdateConfig. Records are added beside others of the same name, not
// in their place: challenges for one name can be open at once, each with
// its own token.
type dns01Provider struct{ primary *primary }

// AppendRecords adds TXT records to zone (RFC 2136 §2.5.1).
func (p *dns01Provider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return p.edit(ctx, zone, recs, func(m *dns.Msg, rr *dns.TXT) { m.Insert([]dns.RR{rr}) })
}

// DeleteRecords removes TXT records from zone: each exactly as given
// (RFC 2136 §2.5.4), or every TXT record of its name if its text is empty
// (§2.5.2), as libdns asks. Records that are not there are no error.
func (p *dns01Provider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return p.edit(ctx, zone, recs, func(m *dns.Msg, rr *dns.TXT) {
		if len(rr.Txt) == 0 {
			m.RemoveRRset([]dns.RR{rr})
		} else {
			m.Remove([]dns.RR{rr})
		}
	})
}

// edit sends one update per record, each made by op, and returns the
// records done. Only TXT records are supported: DNS-01 needs no other.
func (p *dns01Provider) edit(ctx context.Context, zone string, recs []libdns.Record, op func(*dns.Msg, *dns.TXT)) ([]libdns.Record, error) {
	zone = dns.Fqdn(zone)
	ctx, cancel := context.WithTimeout(ctx, p.primary.cfg.timeout())
	defer cancel()
	var done []libdns.Record
	for _, rec := range recs {
		rr := rec.RR()
		if rr.Type != "TXT" {
			return done, fmt.Errorf("dns-01: %s record %q: only TXT records are supported", rr.Type, rr.Name)
		}
		name := libdns.AbsoluteName(rr.Name, zone)
		txt := &dns.TXT{
			Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: uint32(rr.TTL / time.Second)},
			Txt: splitTXT(rr.Data),
		}
		if err := p.primary.update(ctx, zone, name, func(m *dns.Msg) { op(m, txt) }); err != nil {
			return done, err
		}
		done = append(done, libdns.TXT{Name: rr.Name, TTL: rr.TTL, Text: rr.Data})
	}
	return done, nil
}

// splitTXT splits text into the strings of at most 255 bytes that a TXT
// record holds (RFC 1035 §3.3.14), escaping backslashes as miekg/dns
// expects.
func splitTXT(text string) []string {
	var parts []string
	for text != "" {
		n := min(len(text), 255)
		parts = append(parts, strings.ReplaceAll(text[:n], `\`, `\\`))
		text = text[n:]
	}
	return parts
}
