package policyhost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
)

// RecordStatus is how a record to publish compares with live DNS.
type RecordStatus string

// The record statuses.
const (
	// StatusPublished: live DNS holds the record as it should be.
	StatusPublished RecordStatus = "published"
	// StatusMissing: live DNS has no such record.
	StatusMissing RecordStatus = "missing"
	// StatusStale: live DNS holds a different record (an old policy id,
	// other addresses or report URIs, several records).
	StatusStale RecordStatus = "stale"
	// StatusUnknown: the lookup failed, or there is nothing to compare
	// with (the server's addresses are not configured).
	StatusUnknown RecordStatus = "unknown"
)

// Record is one DNS record a served domain needs, and how live DNS
// compares.
type Record struct {
	// Name is the owner name, fully qualified with a trailing dot.
	Name string `json:"name"`
	// Type is "A", "AAAA", "CNAME" or "TXT".
	Type string `json:"type"`
	// Value is the record data as it should be: an address, a host name
	// or the TXT text (unquoted).
	Value string `json:"value"`
	// Status compares Value with live DNS.
	Status RecordStatus `json:"status"`
	// Live is what live DNS holds, for a record not published as it
	// should be.
	Live []string `json:"live,omitempty"`
	// Detail explains the status, for a person.
	Detail string `json:"detail,omitempty"`
}

// RecordResolver is what CheckRecords asks live DNS with. The project's
// DNS client and *net.Resolver satisfy it. A name that does not exist must
// be reported as a *net.DNSError with IsNotFound set.
type RecordResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// DomainRecords are the records of one served domain.
type DomainRecords struct {
	Domain  string   `json:"domain"`
	ID      string   `json:"id"`
	Records []Record `json:"records"`
}

// CheckRecords returns, for the policy p of domain d, the records to
// publish (RFC 8461 §3.1 and §3.3, RFC 8460 §3) compared with live DNS
// as r answers:
//   - mta-sts.<domain> A/AAAA for each configured address, or a CNAME to
//     the configured host name (compared by the addresses it resolves to);
//   - _mta-sts.<domain> TXT "v=STSv1; id=<current id>;";
//   - _smtp._tls.<domain> TXT "v=TLSRPTv1; rua=…".
func CheckRecords(ctx context.Context, r RecordResolver, rc RecordsConfig, d *DomainConfig, p Policy) DomainRecords {
	out := DomainRecords{Domain: d.Domain, ID: p.ID}
	out.Records = append(out.Records, hostRecords(ctx, r, rc, d.PolicyHost())...)
	out.Records = append(out.Records, stsRecord(ctx, r, d.Domain, p.ID), tlsrptRecord(ctx, r, d))
	return out
}

// hostRecords checks that the policy host reaches this server.
func hostRecords(ctx context.Context, r RecordResolver, rc RecordsConfig, host string) []Record {
	name := host + "."
	live, err := lookupAddrs(ctx, r, host)
	if rc.CNAME != "" {
		target := strings.TrimSuffix(rc.CNAME, ".")
		rec := Record{Name: name, Type: "CNAME", Value: target + "."}
		want, terr := lookupAddrs(ctx, r, target)
		switch {
		case terr != nil:
			rec.Status, rec.Detail = StatusUnknown, fmt.Sprintf("cannot resolve %s: %v", target, terr)
		default:
			rec.Status, rec.Live, rec.Detail = compareAddrs(want, live, err)
		}
		return []Record{rec}
	}
	if len(rc.Addresses) == 0 {
		rec := Record{Name: name, Type: "A", Value: "<address of this server>", Status: StatusUnknown,
			Detail: "set [serve.records] addresses or cname to check this record"}
		if err == nil {
			rec.Live = live
		}
		return []Record{rec}
	}
	var recs []Record
	var want []string
	for _, a := range rc.Addresses {
		if ip, perr := netip.ParseAddr(a); perr == nil {
			a = ip.Unmap().String()
		}
		want = append(want, a)
		rec := Record{Name: name, Type: addrType(a), Value: a}
		switch {
		case err != nil && isNotFound(err):
			rec.Status = StatusMissing
		case err != nil:
			rec.Status, rec.Detail = StatusUnknown, err.Error()
		case slices.Contains(live, a):
			rec.Status = StatusPublished
		default:
			rec.Status, rec.Live = StatusMissing, live
		}
		recs = append(recs, rec)
	}
	for _, l := range live {
		if !slices.Contains(want, l) {
			recs = append(recs, Record{Name: name, Type: addrType(l), Value: l, Status: StatusStale,
				Detail: "this address is not this server's: remove it, or senders may reach another host"})
		}
	}
	return recs
}

func addrType(a string) string {
	if strings.Contains(a, ":") {
		return "AAAA"
	}
	return "A"
}

// compareAddrs compares the addresses a CNAME target has with those the
// policy host has.
func compareAddrs(want, live []string, liveErr error) (RecordStatus, []string, string) {
	switch {
	case liveErr != nil && isNotFound(liveErr):
		return StatusMissing, nil, ""
	case liveErr != nil:
		return StatusUnknown, nil, liveErr.Error()
	}
	slices.Sort(want)
	if slices.Equal(want, live) {
		return StatusPublished, nil, ""
	}
	return StatusStale, live, "resolves to other addresses than the CNAME target"
}

// lookupAddrs returns the sorted addresses of host.
func lookupAddrs(ctx context.Context, r RecordResolver, host string) ([]string, error) {
	addrs, err := r.LookupIPAddr(ctx, host+".")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap().String())
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// stsRecord checks the _mta-sts TXT record (RFC 8461 §3.1).
func stsRecord(ctx context.Context, r RecordResolver, domain, id string) Record {
	want := (&sts.Record{Version: "STSv1", ID: id}).String()
	rec := Record{Name: sts.RecordName(domain), Type: "TXT", Value: want}
	live, txts, err := sts.LookupRecord(ctx, r, domain)
	switch {
	case err == nil && live.ID == id:
		rec.Status = StatusPublished
	case err == nil:
		rec.Status, rec.Live = StatusStale, []string{live.String()}
		rec.Detail = fmt.Sprintf("DNS has id %s; senders keep their cached policy until the id changes", live.ID)
	case errors.Is(err, sts.ErrNoRecord) && !errors.Is(err, sts.ErrMultipleRecords):
		rec.Status, rec.Live = StatusMissing, txts
	case errors.Is(err, sts.ErrDNS):
		rec.Status, rec.Detail = StatusUnknown, err.Error()
	default:
		rec.Status, rec.Live, rec.Detail = StatusStale, txts, err.Error()
	}
	return rec
}

// tlsrptRecord checks the _smtp._tls TXT record (RFC 8460 §3).
func tlsrptRecord(ctx context.Context, r RecordResolver, d *DomainConfig) Record {
	rua := d.TLSRPT
	if len(rua) == 0 {
		rua = []string{"mailto:tlsrpt@" + d.Domain}
	}
	want := tlsrpt.Record{Version: tlsrpt.Version}
	text := "v=" + tlsrpt.Version + "; rua=" + strings.Join(rua, ",")
	if parsed, err := tlsrpt.ParseRecord(text); err == nil {
		want = *parsed
		text = want.String()
	}
	rec := Record{Name: "_smtp._tls." + d.Domain + ".", Type: "TXT", Value: text}
	txts, err := r.LookupTXT(ctx, rec.Name)
	switch {
	case err != nil && isNotFound(err):
		rec.Status = StatusMissing
		return rec
	case err != nil:
		rec.Status, rec.Detail = StatusUnknown, err.Error()
		return rec
	}
	live, err := tlsrpt.SelectRecord(txts)
	switch {
	case errors.Is(err, tlsrpt.ErrNoRecord) && !errors.Is(err, tlsrpt.ErrMultipleRecords):
		rec.Status = StatusMissing
	case err != nil:
		rec.Status, rec.Live, rec.Detail = StatusStale, txts, err.Error()
	case live.String() == text:
		rec.Status = StatusPublished
	default:
		rec.Status, rec.Live = StatusStale, []string{live.String()}
		rec.Detail = "the report addresses differ from the configuration"
	}
	return rec
}

// isNotFound reports a DNS answer that the name or record does not exist.
func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// ServedResolver is what ServedRecords looks up with: MX records for
// mx "auto" domains and the records to compare.
type ServedResolver interface {
	MXResolver
	RecordResolver
}

// ServedRecords returns the records of domains (some of cfg's, which
// must be valid) with the policy ids that a Server of cfg serves from its
// data directory, compared with live DNS as CheckRecords does. The ids
// of domains not served yet are assigned and saved as the Server would,
// under the data directory's lock. While a running Server holds the
// lock, nothing is written: a policy changed in the file but not yet
// loaded by that Server gets a provisional id, and is returned in
// provisional too.
func ServedRecords(ctx context.Context, cfg *Config, domains []DomainConfig, r ServedResolver, now func() time.Time) (records []DomainRecords, provisional []Policy, err error) {
	lock, err := LockDataDir(cfg.DataDir)
	serving := errors.Is(err, ErrDataDirLocked)
	if err != nil && !serving {
		return nil, nil, err
	}
	defer lock.Release()
	state, err := OpenState(cfg.DataDir, now)
	if err != nil {
		return nil, nil, err
	}
	if serving {
		state.SetReadOnly()
	}
	saved := map[string]string{} // id of each domain asked for, "" if none yet
	for _, d := range domains {
		ds, _ := state.Get(d.Domain)
		saved[d.Domain] = ds.ID
	}
	policies, err := Policies(ctx, cfg, state, r)
	if err != nil {
		return nil, nil, err
	}
	byDomain := map[string]Policy{}
	for _, p := range policies {
		byDomain[p.Domain] = p
		if id, ok := saved[p.Domain]; serving && ok && id != p.ID {
			provisional = append(provisional, p)
		}
	}
	records = make([]DomainRecords, 0, len(domains))
	for i := range domains {
		records = append(records, CheckRecords(ctx, r, cfg.Records, &domains[i], byDomain[domains[i].Domain]))
	}
	return records, provisional, nil
}
