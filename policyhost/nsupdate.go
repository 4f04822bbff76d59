package policyhost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/sts"
)

// tsigFudge is the TSIG time window (RFC 8945 §5.2.3), in seconds.
const tsigFudge = 300

// publishIDs makes the _mta-sts TXT record of every domain carry its
// current policy id, by RFC 2136 dynamic update, when DNS updates are
// configured. Each domain is checked once after start and then whenever its
// id changes; a record already right is left alone. Failures are logged:
// the policy is served all the same, and the next change retries.
// Called with reloadMu held.
func (s *Server) publishIDs(ctx context.Context, policies []Policy) {
	u := s.cfg.DNSUpdate
	if u.Server == "" {
		return
	}
	for _, p := range policies {
		d := s.domainConfig(p.Domain)
		if d == nil || d.NoDNSUpdate || s.published[p.Domain] == p.ID {
			continue
		}
		zone := d.Zone
		if zone == "" {
			zone = d.Domain
		}
		updated, err := UpdateRecord(ctx, u, zone, p.Domain, p.ID)
		switch {
		case err != nil:
			s.metrics.dnsUpdates.WithLabelValues(p.Domain, "failure").Inc()
			s.log.Error("DNS update of the _mta-sts record failed; publish the id by hand", "domain", p.Domain, "id", p.ID, "server", u.Server, "error", err)
			continue
		case updated:
			s.metrics.dnsUpdates.WithLabelValues(p.Domain, "success").Inc()
			s.log.Info("_mta-sts record updated", "domain", p.Domain, "id", p.ID, "server", u.Server)
		}
		s.published[p.Domain] = p.ID
	}
}

func (s *Server) domainConfig(domain string) *DomainConfig {
	for i := range s.cfg.Domains {
		if s.cfg.Domains[i].Domain == domain {
			return &s.cfg.Domains[i]
		}
	}
	return nil
}

// UpdateRecord makes the _mta-sts TXT record of domain, in zone, read
// "v=STSv1; id=<id>;" on the primary server of u (RFC 8461 §3.1). It asks
// the server first and sends an RFC 2136 update, signed with the TSIG key
// of u (RFC 8945), only if the record differs; updated reports whether it
// did. The update replaces the whole TXT RRset of the name, since there
// must be exactly one STSv1 record.
func UpdateRecord(ctx context.Context, u DNSUpdateConfig, zone, domain, id string) (updated bool, err error) {
	name := strings.TrimSuffix(sts.RecordName(domain), ".") + "."
	want := (&sts.Record{Version: "STSv1", ID: id}).String()
	timeout := positive(u.Timeout, 10*time.Second)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	keyName := dns.Fqdn(strings.ToLower(u.KeyName))
	client := &dns.Client{Net: "tcp", Timeout: timeout}
	if u.KeyName != "" {
		client.TsigSecret = map[string]string{keyName: u.Secret}
	}

	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeTXT)
	if r, _, err := client.ExchangeContext(ctx, q, u.Server); err == nil && r.Rcode == dns.RcodeSuccess {
		var txts []string
		for _, rr := range r.Answer {
			if t, ok := rr.(*dns.TXT); ok {
				txts = append(txts, strings.Join(t.Txt, ""))
			}
		}
		if len(txts) == 1 && txts[0] == want {
			return false, nil
		}
	}

	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(zone))
	hdr := dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: uint32(u.TTL)}
	m.RemoveRRset([]dns.RR{&dns.TXT{Hdr: hdr}})
	m.Insert([]dns.RR{&dns.TXT{Hdr: hdr, Txt: []string{want}}})
	if u.KeyName != "" {
		m.SetTsig(keyName, tsigAlgorithm(u.Algorithm), tsigFudge, time.Now().Unix())
	}
	r, _, err := client.ExchangeContext(ctx, m, u.Server)
	if err != nil {
		return false, fmt.Errorf("update %s in zone %s: %w", name, zone, err)
	}
	if r.Rcode != dns.RcodeSuccess {
		return false, fmt.Errorf("update %s in zone %s: server answered %s", name, zone, dns.RcodeToString[r.Rcode])
	}
	return true, nil
}

// tsigAlgorithm maps "hmac-sha256" and the like to miekg/dns's names.
func tsigAlgorithm(a string) string {
	if a == "" {
		return dns.HmacSHA256
	}
	return dns.Fqdn(strings.ToLower(a))
}

// check checks the server-wide settings of u.
func (u *DNSUpdateConfig) check() error {
	if u.Server == "" {
		return nil
	}
	var errs []error
	switch tsigAlgorithm(u.Algorithm) {
	case dns.HmacSHA1, dns.HmacSHA224, dns.HmacSHA256, dns.HmacSHA384, dns.HmacSHA512:
	default:
		errs = append(errs, fmt.Errorf("dns_update: unknown TSIG algorithm %q (use hmac-sha256)", u.Algorithm))
	}
	if (u.KeyName == "") != (u.Secret == "") {
		errs = append(errs, errors.New("dns_update: tsig_key and tsig_secret go together"))
	}
	return errors.Join(errs...)
}
