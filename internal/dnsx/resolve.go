package dnsx

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// MaxCNAMEs is the longest CNAME chain a lookup follows.
const MaxCNAMEs = 10

// Result is the metadata of an answer. Lookups return it with NXDOMAIN and
// NODATA errors too, where it describes the negative reply: Authenticated
// then means the denial of existence was validated, which DANE relies on
// (RFC 7672 §2.2).
type Result struct {
	// Authenticated is the AD bit: true only if every reply the answer was
	// built from had it set, that is the resolver validated the whole chain
	// with DNSSEC. It is only as trustworthy as the path to the resolver.
	Authenticated bool
	// CNAMEs are the aliases followed, in order: the target of each CNAME,
	// lower-case, without the trailing dot. The last one is the canonical
	// name that holds the records. Empty when the name was no alias.
	CNAMEs []string
	// Server is the address of the server that sent the final reply.
	Server string
	// TTL is how long the answer may be cached (RFC 1035 §3.2.1): the
	// smallest TTL of the records returned and of the CNAMEs followed to
	// them, or, for NXDOMAIN and NODATA, the negative caching time of the
	// zone's SOA record in the reply (RFC 2308 §5), 0 without one.
	TTL time.Duration
}

// Query looks up records of qtype at name, following CNAMEs unless qtype is
// CNAME or ANY. The returned message is the last reply received; its answer
// section holds the records of qtype at the end of the chain (and may hold
// others, such as the CNAMEs the server chased). When there is no such
// record, the error wraps ErrNXDomain or ErrNoData; see the package
// documentation for the others.
func (c *Client) Query(ctx context.Context, name string, qtype uint16) (*dns.Msg, Result, error) {
	_, msg, res, err := c.resolve(ctx, name, qtype)
	if err != nil {
		return nil, res, err
	}
	return msg, res, nil
}

// resolve is Query that also returns the records of qtype at the end of the
// CNAME chain, which it guarantees are at least one. On NXDOMAIN and NODATA
// the Result describes the negative reply.
func (c *Client) resolve(ctx context.Context, name string, qtype uint16) ([]dns.RR, *dns.Msg, Result, error) {
	qname, err := canonicalName(name)
	if err != nil {
		return nil, nil, Result{}, newError(name, "", ErrInvalidName, "invalid domain name: "+err.Error(), nil)
	}
	display := displayName(qname)
	follow := qtype != dns.TypeCNAME && qtype != dns.TypeANY
	seen := map[string]bool{qname: true}
	current := qname
	res := Result{Authenticated: true}
	ttl := newMinTTL()

	for {
		r, server, derr := c.exchange(ctx, current, qtype)
		if derr != nil {
			res.Authenticated, res.Server = false, derr.Server
			return nil, nil, res, renamed(derr, qname, current)
		}
		res.Server = server
		res.Authenticated = res.Authenticated && r.AuthenticatedData

		// Walk the chain the server put in its answer, in whatever order.
		chased := false
		for {
			if rrs := recordsAt(r.Answer, current, qtype); len(rrs) > 0 && r.Rcode == dns.RcodeSuccess {
				for _, rr := range rrs {
					ttl.add(rr.Header().Ttl)
				}
				res.TTL = ttl.get()
				return rrs, r, res, nil
			}
			cname := cnameAt(r.Answer, current)
			if !follow || cname == nil {
				break
			}
			ttl.add(cname.Hdr.Ttl)
			target := strings.ToLower(dns.Fqdn(cname.Target))
			res.CNAMEs = append(res.CNAMEs, displayName(target))
			if seen[target] || len(res.CNAMEs) > MaxCNAMEs {
				res.Authenticated = false
				return nil, nil, res, newError(display, server, ErrCNAMELoop, loopText(display, res.CNAMEs), nil)
			}
			seen[target] = true
			current, chased = target, true
		}

		res.TTL = negativeTTL(r)
		switch {
		case r.Rcode == dns.RcodeNameError:
			// RFC 6604 §3: the rcode is about the last name of the chain.
			return nil, nil, res, renamed(newError(display, server, ErrNXDomain, rcodeText(r.Rcode), nil), qname, current)
		case !chased || provesNoData(r, current):
			text := "no " + typeName(qtype) + " record (NODATA)"
			return nil, nil, res, renamed(newError(display, server, ErrNoData, text, nil), qname, current)
		}
		// The server gave the CNAME but not what it points to (an
		// authoritative server does that for targets outside its zones):
		// ask for the target.
	}
}

// renamed makes an error about current, reached through CNAMEs from qname,
// name qname and mention current.
func renamed(de *net.DNSError, qname, current string) *net.DNSError {
	de.Name = displayName(qname)
	if current != qname {
		de.Err += " at CNAME target " + displayName(current)
	}
	return de
}

// recordsAt returns the records of qtype owned by name (a canonical name)
// in rrs.
func recordsAt(rrs []dns.RR, name string, qtype uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		h := rr.Header()
		if h.Class == dns.ClassINET && (h.Rrtype == qtype || qtype == dns.TypeANY) && strings.EqualFold(h.Name, name) {
			out = append(out, rr)
		}
	}
	return out
}

// cnameAt returns the CNAME owned by name in rrs, or nil.
func cnameAt(rrs []dns.RR, name string) *dns.CNAME {
	for _, rr := range rrs {
		if c, ok := rr.(*dns.CNAME); ok && c.Hdr.Class == dns.ClassINET && strings.EqualFold(c.Hdr.Name, name) {
			return c
		}
	}
	return nil
}

// minTTL keeps the smallest of the TTLs added.
type minTTL struct{ ttl uint32 }

func newMinTTL() minTTL          { return minTTL{ttl: ^uint32(0)} }
func (m *minTTL) add(ttl uint32) { m.ttl = min(m.ttl, ttl) }

// get returns the smallest TTL added as a duration (RFC 2181 §8: a TTL
// above 2^31-1 means 0).
func (m *minTTL) get() time.Duration {
	if m.ttl > 1<<31-1 {
		return 0
	}
	return time.Duration(m.ttl) * time.Second
}

// negativeTTL returns how long the negative reply r may be cached: the
// smaller of the TTL and the MINIMUM field of the SOA record in its
// authority section (RFC 2308 §5), 0 without one.
func negativeTTL(r *dns.Msg) time.Duration {
	for _, rr := range r.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			ttl := newMinTTL()
			ttl.add(soa.Hdr.Ttl)
			ttl.add(soa.Minttl)
			return ttl.get()
		}
	}
	return 0
}

// provesNoData reports whether the NOERROR reply r, whose answer ends in a
// CNAME to name, is a negative answer for name: its authority section holds
// the SOA of name's zone (RFC 2308 §2.2). Without it the server may simply
// not have chased the CNAME.
func provesNoData(r *dns.Msg, name string) bool {
	for _, rr := range r.Ns {
		if soa, ok := rr.(*dns.SOA); ok && dns.IsSubDomain(soa.Hdr.Name, name) {
			return true
		}
	}
	return false
}

// loopText describes a CNAME chain that loops or is too long.
func loopText(name string, chain []string) string {
	if len(chain) > MaxCNAMEs {
		return fmt.Sprintf("CNAME chain longer than %d", MaxCNAMEs)
	}
	return "CNAME loop: " + name + " → " + strings.Join(chain, " → ")
}

// typeName returns the mnemonic of qtype, such as "TXT".
func typeName(qtype uint16) string {
	if s, ok := dns.TypeToString[qtype]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", qtype)
}
