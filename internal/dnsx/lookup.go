package dnsx

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// TXT returns the TXT records at name, each with its character-strings
// joined with no separator (RFC 8461 §3.1, RFC 7208 §3.3), following CNAMEs.
func (c *Client) TXT(ctx context.Context, name string) ([]string, Result, error) {
	rrs, res, err := lookupRRs[*dns.TXT](ctx, c, name, dns.TypeTXT)
	if err != nil {
		return nil, res, err
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		var b strings.Builder
		for _, s := range rr.Txt {
			b.WriteString(unescapeTXT(s))
		}
		out = append(out, b.String())
	}
	return out, res, nil
}

// MX returns the MX records at name sorted by preference, then by host.
// Hosts are lower-case and fully qualified ("mx1.example.com."), as package
// net returns them. A null MX (RFC 7505: "0 .", the domain accepts no mail)
// is returned as a record with Host ".".
func (c *Client) MX(ctx context.Context, name string) ([]*net.MX, Result, error) {
	rrs, res, err := lookupRRs[*dns.MX](ctx, c, name, dns.TypeMX)
	if err != nil {
		return nil, res, err
	}
	out := make([]*net.MX, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, &net.MX{Host: strings.ToLower(dns.Fqdn(rr.Mx)), Pref: rr.Preference})
	}
	slices.SortFunc(out, func(a, b *net.MX) int {
		return cmp.Or(cmp.Compare(a.Pref, b.Pref), strings.Compare(a.Host, b.Host))
	})
	return out, res, nil
}

// IPs returns the addresses of host for qtype dns.TypeA or dns.TypeAAAA,
// following CNAMEs.
func (c *Client) IPs(ctx context.Context, host string, qtype uint16) ([]net.IP, Result, error) {
	if qtype != dns.TypeA && qtype != dns.TypeAAAA {
		return nil, Result{}, fmt.Errorf("dnsx: IPs: qtype %s is neither A nor AAAA", typeName(qtype))
	}
	rrs, res, err := lookupRRs[dns.RR](ctx, c, host, qtype)
	if err != nil {
		return nil, res, err
	}
	out := make([]net.IP, 0, len(rrs))
	for _, rr := range rrs {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A)
		case *dns.AAAA:
			out = append(out, rr.AAAA)
		}
	}
	return out, res, nil
}

// TLSA returns the TLSA records at name, such as "_25._tcp.mx.example.com"
// (RFC 6698, RFC 7672), following CNAMEs. DANE may use them only if
// Result.Authenticated is true.
func (c *Client) TLSA(ctx context.Context, name string) ([]*dns.TLSA, Result, error) {
	return lookupRRs[*dns.TLSA](ctx, c, name, dns.TypeTLSA)
}

// lookupRRs resolves (name, qtype) and returns the records as their
// concrete miekg/dns type T.
func lookupRRs[T dns.RR](ctx context.Context, c *Client, name string, qtype uint16) ([]T, Result, error) {
	rrs, _, res, err := c.resolve(ctx, name, qtype)
	if err != nil {
		return nil, res, err
	}
	out := make([]T, 0, len(rrs))
	for _, rr := range rrs {
		if rr, ok := rr.(T); ok {
			out = append(out, rr)
		}
	}
	return out, res, nil
}

// LookupTXT is TXT without the metadata, with the signature of
// net.Resolver.LookupTXT.
func (c *Client) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, _, err := c.TXT(ctx, name)
	return txts, err
}

// LookupMX is MX without the metadata, with the signature of
// net.Resolver.LookupMX.
func (c *Client) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, _, err := c.MX(ctx, name)
	return mxs, err
}

// LookupHost returns the IPv4 and IPv6 addresses of host as strings, with
// the signature of net.Resolver.LookupHost. See LookupIPAddr.
func (c *Client) LookupHost(ctx context.Context, host string) ([]string, error) {
	addrs, err := c.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.String())
	}
	return out, nil
}

// LookupIPAddr returns the IPv4 and then the IPv6 addresses of host, with
// the signature of net.Resolver.LookupIPAddr. A and AAAA are asked in
// parallel. Addresses of one family are returned even if the query for the
// other failed; the error is not-found only if both queries were, and
// temporary if either was. An IP address literal is returned as it is.
func (c *Client) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []net.IPAddr{{IP: ip.AsSlice(), Zone: ip.Zone()}}, nil
	}
	type answer struct {
		ips []net.IP
		err error
	}
	qtypes := []uint16{dns.TypeA, dns.TypeAAAA}
	results := make([]chan answer, len(qtypes))
	for i, qtype := range qtypes {
		results[i] = make(chan answer, 1)
		go func() {
			ips, _, err := c.IPs(ctx, host, qtype)
			results[i] <- answer{ips, err}
		}()
	}
	var out []net.IPAddr
	var notFound, temporary error
	for _, ch := range results {
		a := <-ch
		for _, ip := range a.ips {
			out = append(out, net.IPAddr{IP: ip})
		}
		switch {
		case a.err == nil:
		case IsNotFound(a.err):
			notFound = cmp.Or(notFound, a.err)
		default:
			temporary = cmp.Or(temporary, a.err)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	return nil, cmp.Or(temporary, notFound)
}

// unescapeTXT turns a character-string as miekg/dns presents it, with
// "\"", "\\" and "\DDD" escapes, back into its raw bytes.
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n <= 255 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

// isDigit reports whether b is an ASCII digit.
func isDigit(b byte) bool { return '0' <= b && b <= '9' }
