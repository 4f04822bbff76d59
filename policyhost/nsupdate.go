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
	ctx, cancel := context.WithTimeout(ctx, u.timeout())
	defer cancel()
	p := newPrimary(u)
	if txts, err := p.txt(ctx, name); err == nil && len(txts) == 1 && txts[0] == want {
		return false, nil
	}
	hdr := dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: uint32(u.TTL)}
	err = p.update(ctx, zone, name, func(m *dns.Msg) {
		m.RemoveRRset([]dns.RR{&dns.TXT{Hdr: hdr}})
		m.Insert([]dns.RR{&dns.TXT{Hdr: hdr, Txt: []string{want}}})
	})
	return err == nil, err
}

// primary talks to the primary name server of a DNSUpdateConfig: it reads
// records there and sends it RFC 2136 updates signed with the TSIG key
// (RFC 8945). It is safe for concurrent use.
type primary struct {
	cfg     DNSUpdateConfig
	keyName string
	client  *dns.Client
}

func newPrimary(u DNSUpdateConfig) *primary {
	p := &primary{cfg: u, keyName: dns.Fqdn(strings.ToLower(u.KeyName)), client: &dns.Client{Net: "tcp", Timeout: u.timeout()}}
	if u.KeyName != "" {
		p.client.TsigSecret = map[string]string{p.keyName: u.Secret}
	}
	return p
}

// txt returns the TXT records of name (absolute, with the final dot) on
// the server, each with its strings joined.
func (p *primary) txt(ctx context.Context, name string) ([]string, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeTXT)
	r, _, err := p.client.ExchangeContext(ctx, q, p.cfg.Server)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("query %s: server answered %s", name, dns.RcodeToString[r.Rcode])
	}
	var txts []string
	for _, rr := range r.Answer {
		if t, ok := rr.(*dns.TXT); ok {
			txts = append(txts, strings.Join(t.Txt, ""))
		}
	}
	return txts, nil
}

// update sends an RFC 2136 update of zone whose update section edit
// fills, signed with the TSIG key, and fails unless the server answers
// NOERROR. name is the record updated, for messages.
func (p *primary) update(ctx context.Context, zone, name string, edit func(*dns.Msg)) error {
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(zone))
	edit(m)
	if p.cfg.KeyName != "" {
		m.SetTsig(p.keyName, tsigAlgorithm(p.cfg.Algorithm), tsigFudge, time.Now().Unix())
	}
	r, _, err := p.client.ExchangeContext(ctx, m, p.cfg.Server)
	if err != nil {
		return fmt.Errorf("update %s in zone %s: %w", name, zone, err)
	}
	if r.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("update %s in zone %s: server answered %s", name, zone, dns.RcodeToString[r.Rcode])
	}
	return nil
}

// timeout bounds one exchange with the server.
func (u *DNSUpdateConfig) timeout() time.Duration { return positive(u.Timeout, 10*time.Second) }

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
