package policyhost

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mtasts/mtasts/internal/connlimit"
)

// connLimiter counts open connections, in total and per client address,
// and refuses those over the limits: a flood from one address cannot take
// the connections other clients need.
type connLimiter struct {
	count *connlimit.Counter[netip.Addr]
	m     *metrics
}

func newConnLimiter(l Limits, m *metrics) *connLimiter {
	return &connLimiter{count: connlimit.New[netip.Addr](l.MaxConns, l.MaxConnsPerIP), m: m}
}

// acquire counts a connection from ip, or returns the reason to refuse it.
func (cl *connLimiter) acquire(ip netip.Addr) string {
	if reason := cl.count.Acquire(ip); reason != "" {
		return reason
	}
	cl.m.connsOpen.Inc()
	return ""
}

func (cl *connLimiter) release(ip netip.Addr) {
	cl.count.Release(ip)
	cl.m.connsOpen.Dec()
}

// limitListener applies a connLimiter to the connections it accepts, and
// bounds their writes by writeTimeout (see limitConn).
type limitListener struct {
	net.Listener
	lim          *connLimiter
	writeTimeout time.Duration
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
		return &limitConn{Conn: c, lim: l.lim, ip: ip, writeTimeout: l.writeTimeout}, nil
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

// limitConn gives its slot back when closed, and bounds its writes: with
// a writeTimeout, no write may block longer than that, which cuts off a
// client that stops reading its responses. http.Server's WriteTimeout does
// the same by updating the deadline twice per request; here it is moved
// at most every quarter of writeTimeout, so a write fails after between
// 3/4 and all of writeTimeout. A deadline set through SetWriteDeadline or
// SetDeadline (by a handler, through http.ResponseController) is honoured
// instead until it is cleared.
type limitConn struct {
	net.Conn
	lim          *connLimiter
	ip           netip.Addr
	once         sync.Once
	writeTimeout time.Duration

	mu       sync.Mutex
	explicit bool      // a deadline set by SetWriteDeadline is in force
	autoSet  time.Time // when Write last moved the deadline
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.lim.release(c.ip) })
	return err
}

func (c *limitConn) Write(p []byte) (int, error) {
	if c.writeTimeout > 0 {
		c.mu.Lock()
		if now := time.Now(); !c.explicit && now.Sub(c.autoSet) >= c.writeTimeout/4 {
			if err := c.Conn.SetWriteDeadline(now.Add(c.writeTimeout)); err != nil {
				c.mu.Unlock()
				return 0, err
			}
			c.autoSet = now
		}
		c.mu.Unlock()
	}
	return c.Conn.Write(p)
}

// SetWriteDeadline sets a deadline that overrides the write timeout; the
// zero time hands writes back to the write timeout.
func (c *limitConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writeTimeout > 0 && t.IsZero() {
		if c.explicit {
			// The next Write sets the write timeout's deadline again.
			c.explicit, c.autoSet = false, time.Time{}
		}
		return nil
	}
	c.explicit = !t.IsZero()
	return c.Conn.SetWriteDeadline(t)
}

func (c *limitConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}
