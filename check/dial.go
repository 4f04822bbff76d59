package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
)

// errNotPublic is the cause of a connection refused by Options.PublicOnly.
var errNotPublic = errors.New("not a public address")

// cgnat is the shared address space of RFC 6598, private in practice.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// isPublic reports whether ip is an address a stranger's domain may make
// the checker connect to: not loopback, private (RFC 1918, RFC 4193),
// shared (RFC 6598), link-local, multicast or unspecified.
func isPublic(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast() &&
		!ip.IsLinkLocalMulticast() && !ip.IsInterfaceLocalMulticast() && !ip.IsMulticast() &&
		!ip.IsUnspecified() && !cgnat.Contains(ip)
}

// dialer opens the checker's TCP connections: only to IP addresses the
// checker resolved itself, never to more than perIP connections at once
// per address, and, with publicOnly, never to a non-public address.
type dialer struct {
	base       func(ctx context.Context, network, addr string) (net.Conn, error)
	publicOnly bool
	limit      *ipLimiter
}

// open starts an operation (a policy fetch or a probe) that connects to
// addrs. It first waits for a per-IP slot of every address, in address
// order so that operations never wait for each other in a cycle, so that
// the operation's timeout and timing cover the network alone.
func (d *dialer) open(ctx context.Context, addrs []netip.Addr) (*session, error) {
	s := &session{d: d, addrs: addrs}
	sorted := slices.Clone(addrs)
	slices.SortFunc(sorted, netip.Addr.Compare)
	for _, ip := range slices.Compact(sorted) {
		if d.publicOnly && !isPublic(ip) {
			continue // refused by dial, needs no slot
		}
		release, err := d.limit.acquire(ctx, ip)
		if err != nil {
			s.close()
			return nil, err
		}
		s.releases = append(s.releases, release)
	}
	return s, nil
}

// session is a dial function for one operation that connects to a fixed
// list of addresses, whatever host name it is asked for, in order until
// one answers. close gives the per-IP slots back and closes every
// connection the operation left open.
type session struct {
	d        *dialer
	addrs    []netip.Addr
	releases []func()

	mu    sync.Mutex
	conns []net.Conn
}

// dial implements the DialContext signature.
func (s *session) dial(ctx context.Context, _, addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ip := range s.addrs {
		if s.d.publicOnly && !isPublic(ip) {
			errs = append(errs, fmt.Errorf("refusing to connect to %s: %w (--public-only)", ip, errNotPublic))
			continue
		}
		conn, err := s.d.base(ctx, "tcp", net.JoinHostPort(ip.String(), port))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.mu.Lock()
		s.conns = append(s.conns, conn)
		s.mu.Unlock()
		return conn, nil
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("dial %s: no address to connect to", addr)
	}
	return nil, errors.Join(errs...)
}

// close ends the session.
func (s *session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	for _, r := range s.releases {
		r()
	}
	s.conns, s.releases = nil, nil
}

// ipLimiter bounds the number of concurrent connections per IP address.
// Idle addresses take no memory.
type ipLimiter struct {
	per int

	mu    sync.Mutex
	slots map[netip.Addr]*ipSlot
}

type ipSlot struct {
	sem   chan struct{}
	users int // holders and waiters
}

func newIPLimiter(per int) *ipLimiter {
	return &ipLimiter{per: per, slots: map[netip.Addr]*ipSlot{}}
}

// acquire waits for a free slot for ip, or for ctx to end.
func (l *ipLimiter) acquire(ctx context.Context, ip netip.Addr) (func(), error) {
	l.mu.Lock()
	s := l.slots[ip]
	if s == nil {
		s = &ipSlot{sem: make(chan struct{}, l.per)}
		l.slots[ip] = s
	}
	s.users++
	l.mu.Unlock()

	leave := func() {
		l.mu.Lock()
		s.users--
		if s.users == 0 {
			delete(l.slots, ip)
		}
		l.mu.Unlock()
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
	return sync.OnceFunc(func() {
		<-s.sem
		leave()
	}), nil
}

// resolve returns the addresses of host, IPv4 first, with the errors of
// the DNS client (see dnsx.IsNotFound and dnsx.IsTemporary).
func (c *Checker) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	ips, err := c.dns.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip.IP); ok {
			out = append(out, a.Unmap())
		}
	}
	return out, nil
}

// skipReason says why the checker does not probe ip, or "" if it does:
// the address family is excluded by Options, or the machine has no route
// for it.
func (c *Checker) skipReason(ip netip.Addr) string {
	if r := c.familyReason(ip); r != "" {
		return r
	}
	if !ip.Is4() && !c.v6() {
		return "not probed: this machine has no IPv6 route"
	}
	return ""
}

// familyReason says why Options exclude the family of ip, or "".
func (c *Checker) familyReason(ip netip.Addr) string {
	switch {
	case c.opts.IPv4Only && !ip.Is4():
		return "IPv6 address skipped (--ipv4)"
	case c.opts.IPv6Only && ip.Is4():
		return "IPv4 address skipped (--ipv6)"
	}
	return ""
}

// addrStrings renders addresses for facts.
func addrStrings(addrs []netip.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}
