package ingest

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// client identifies who sent a request: the peer of the connection, or,
// when that is a trusted reverse proxy, the address the proxies say they
// forwarded for (X-Forwarded-For, read from the right, skipping trusted
// proxies: what a client writes there itself is on the left, and is not
// believed).
type client struct {
	addr netip.Addr // invalid when the peer's address cannot be read
	raw  string     // the peer address as given, when addr is invalid
}

func clientOf(r *http.Request, trusted []netip.Prefix) client {
	c := peerOf(r.RemoteAddr)
	addr := c.addr
	if !addr.IsValid() || !isTrusted(addr, trusted) {
		return c
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: trust nothing left of it
		}
		addr = hop.Unmap()
		if !isTrusted(addr, trusted) {
			break
		}
	}
	return client{addr: addr}
}

// peerOf is the client at the other end of a connection from remote, a
// host:port.
func peerOf(remote string) client {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		host, _, serr := net.SplitHostPort(remote)
		if serr != nil {
			host = remote
		}
		return client{raw: host}
	}
	return client{addr: ap.Addr().Unmap()}
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// String is the client's address, as stored in a report's origin.
func (c client) String() string {
	if !c.addr.IsValid() {
		return c.raw
	}
	return c.addr.String()
}

// key is what the per-client limits count by: the address, or for IPv6
// its /64, which one host usually has whole.
func (c client) key() string {
	if !c.addr.IsValid() || c.addr.Is4() {
		return c.String()
	}
	p, _ := c.addr.Prefix(64)
	return p.String()
}
