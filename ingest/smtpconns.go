package ingest

import (
	"net"
	"sync"
	"time"

	"github.com/mtasts/mtasts/internal/connlimit"
)

// Defaults of the connection bounds of SMTPOptions.
const (
	// DefaultSMTPMaxConns is the default bound on the report mail
	// connections open at once.
	DefaultSMTPMaxConns = 100
	// DefaultSMTPMaxConnsPerClient is the default bound on the report
	// mail connections of one client open at once.
	DefaultSMTPMaxConnsPerClient = 10
	// DefaultSMTPTimeout is the default bound on each read and write of a
	// report mail connection: RFC 5321 §4.5.3.2 asks a server to wait five
	// minutes for a command.
	DefaultSMTPTimeout = 5 * time.Minute
	// DefaultSMTPSessionTimeout is the default bound on the whole of a
	// report mail connection, however busy.
	DefaultSMTPSessionTimeout = 30 * time.Minute
)

// connLimiter counts the report mail connections open, in all and by
// client, and refuses those beyond its bounds at once: a flood is
// answered quickly and holds nothing.
type connLimiter struct {
	count   *connlimit.Counter[string]
	session time.Duration
	// refused is called for each connection refused, with the label of
	// the limit (the refused metric's) and the client.
	refused func(limit string, c client)
}

// limitedListener is a listener whose connections are counted by cl and
// bounded in time, and those beyond its bounds refused.
type limitedListener struct {
	net.Listener
	cl *connLimiter
}

// refusal is the reply to a connection beyond the limits (RFC 5321
// §3.8: a server that cannot serve a connection may answer 421 and
// close it).
const refusal = "421 4.7.0 too many connections, try again later\r\n"

// Accept returns the next connection within the limits, refusing those
// beyond them.
func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c := peerOf(conn.RemoteAddr().String())
		release, limit := l.cl.admit(c.key())
		if limit == "" {
			return newSessionConn(conn, time.Now().Add(l.cl.session), release), nil
		}
		l.cl.refused(limit, c)
		// The reply fits a fresh socket's send buffer: the write does
		// not wait on the client, and the deadline makes sure of it.
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = conn.Write([]byte(refusal))
		conn.Close()
	}
}

// admit counts a connection of client key, or returns the label of the
// limit it is beyond.
func (cl *connLimiter) admit(key string) (release func(), limit string) {
	if limit := cl.count.Acquire(key); limit != "" {
		return nil, limit
	}
	return sync.OnceFunc(func() { cl.count.Release(key) }), ""
}

// sessionConn is a connection that ends at end however busy it is: no
// deadline set on it is later than end. Deadlines are the wall clock's,
// not the Ingester's. Closing it releases its place.
type sessionConn struct {
	net.Conn
	end     time.Time
	release func()
}

func newSessionConn(c net.Conn, end time.Time, release func()) *sessionConn {
	_ = c.SetDeadline(end)
	return &sessionConn{Conn: c, end: end, release: release}
}

func (c *sessionConn) bound(t time.Time) time.Time {
	if t.IsZero() || t.After(c.end) {
		return c.end
	}
	return t
}

// SetDeadline sets the deadlines, no later than the session's end.
func (c *sessionConn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.bound(t)) }

// SetReadDeadline sets the read deadline, no later than the session's end.
func (c *sessionConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.bound(t))
}

// SetWriteDeadline sets the write deadline, no later than the session's
// end.
func (c *sessionConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.bound(t))
}

// Close closes the connection and gives its place back.
func (c *sessionConn) Close() error {
	c.release()
	return c.Conn.Close()
}
