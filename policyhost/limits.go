package policyhost

import (
	"net"
	"net/netip"
	"sync"
)

// connLimiter counts open connections, in total and per client address,
// and refuses those over the limits: a flood from one address cannot take
// the connections other clients need.
type connLimiter struct {
	maxTotal, maxPerIP int
	m                  *metrics

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
}

func newConnLimiter(l Limits, m *metrics) *connLimiter {
	return &connLimiter{maxTotal: l.MaxConns, maxPerIP: l.MaxConnsPerIP, m: m, perIP: map[netip.Addr]int{}}
}

// acquire counts a connection from ip, or returns the reason to refuse it.
func (cl *connLimiter) acquire(ip netip.Addr) string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.maxTotal > 0 && cl.total >= cl.maxTotal {
		return "total"
	}
	if cl.maxPerIP > 0 && cl.perIP[ip] >= cl.maxPerIP {
		return "per_ip"
	}
	cl.total++
	cl.perIP[ip]++
	cl.m.connsOpen.Inc()
	return ""
}

func (cl *connLimiter) release(ip netip.Addr) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.total--
	if n := cl.perIP[ip] - 1; n > 0 {
		cl.perIP[ip] = n
	} else {
		delete(cl.perIP, ip)
	}
	cl.m.connsOpen.Dec()
}

// limitListener applies a connLimiter to the connections it accepts.
type limitListener struct {
	net.Listener
	lim *connLimiter
}

// Accept returns the next connection within the limits, closing those
// over them.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		if reason := l.lim.acquire(ip); reason != "" {
			l.lim.m.connsRejected.WithLabelValues(reason).Inc()
			c.Close()
			continue
		}
		return &limitConn{Conn: c, lim: l.lim, ip: ip}, nil
	}
}

// remoteIP returns the client address of c, IPv4-mapped addresses unmapped.
func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	return ap.Addr().Unmap()
}

// limitConn gives its slot back when closed.
type limitConn struct {
	net.Conn
	lim  *connLimiter
	ip   netip.Addr
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.lim.release(c.ip) })
	return err
}
