package socketmap

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults for the zero fields of Server.
const (
	// DefaultMaxRequest leaves room for Postfix's largest query
	// (socketmap_max_query_size, 10000 bytes in Postfix 3.12) plus a map
	// name. Older Postfix versions send any key; longer ones get PERM.
	DefaultMaxRequest = 10240
	// DefaultMaxReply is Postfix's limit on a reply payload
	// (socketmap_max_reply_size, fixed before Postfix 3.10).
	DefaultMaxReply = 100000
	// DefaultIdleTimeout closes connections that send nothing for this
	// long. Postfix closes its idle connections after about 10 s itself.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultReadTimeout bounds the time from the first byte of a request
	// to its last. Postfix sends a request in one write.
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds each write of replies to a client.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultConcurrency is the number of lookups that one connection may
	// have in flight. Postfix sends one request at a time; pipelining
	// clients benefit from more.
	DefaultConcurrency = 16
)

// minReplyLimit is the least MaxReply the server uses, so that every
// status and a short reason always fit.
const minReplyLimit = 64

// maxDiscard is the longest over-limit request that is skipped to keep the
// connection; a longer one is answered and the connection closed.
const maxDiscard = 1 << 20

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown or
// Close.
var ErrServerClosed = errors.New("socketmap: server closed")

// Server answers socketmap requests with a Handler. Set its fields before
// calling Serve; the zero value of each field means its default.
//
// Each connection is served by a reading goroutine and a writing goroutine.
// A request that comes alone, with no other reply on its way and no
// further request already received (Postfix sends one request and waits
// for its reply), is looked up by the reader itself, which writes the
// reply; if that lookup takes more than a few milliseconds, a new
// goroutine goes on reading meanwhile. Otherwise the reader starts a
// lookup goroutine for each request, up to Concurrency in flight, and the
// writer sends the replies in request order, batching those that are
// ready into one write.
//
// Bad input is handled per connection, and the server goes on serving
// other clients:
//
//   - a request longer than MaxRequest gets PERM; it is skipped and the
//     connection kept if it is at most 1 MiB, otherwise the connection is
//     closed after the reply;
//   - a payload that is not "<map> <key>" gets PERM and the connection is
//     kept;
//   - a malformed netstring (bad length, missing ':' or ',') gets PERM
//     describing the fault and its byte, then the connection is closed,
//     since the next request cannot be found;
//   - a request cut short by the client closing, or not completed within
//     ReadTimeout, closes the connection without a reply.
//
// Each of these is logged at level Warn with the client address.
//
// The number of connections is bounded by MaxConnections, so that a client
// that opens many cannot take the file descriptors and memory the others
// need. Above PressureConnections, a new connection makes the server close
// the connections idle for longer than PressureIdleTimeout, longest idle
// first; at MaxConnections, it closes the one idle the longest; and when
// none is idle, the new connection is closed at once, unserved, rather
// than left waiting: Postfix then reconnects or defers the mail. Stats
// counts these, and refused connections are logged at most once a minute.
type Server struct {
	// Handler answers the requests; required. Use a Mux to serve several
	// map names and answer PERM for others.
	Handler Handler
	// MaxRequest is the largest request payload accepted, in bytes.
	MaxRequest int
	// MaxReply is the largest reply payload sent (raise it only together
	// with Postfix's socketmap_max_reply_size). Values under 64 count as 64.
	// See Reply for how long replies are cut.
	MaxReply int
	// IdleTimeout closes a connection when no request starts for this long.
	IdleTimeout time.Duration
	// ReadTimeout closes a connection when a request that has started is
	// not complete within this time.
	ReadTimeout time.Duration
	// WriteTimeout closes a connection when a write of replies does not
	// complete within this time.
	WriteTimeout time.Duration
	// Concurrency is the maximum number of lookups in flight for one
	// connection; 1 serves a connection strictly one request at a time.
	// Replies are always sent in request order.
	Concurrency int
	// MaxConnections bounds the connections served at once; 0 means
	// DefaultMaxConnections(), a negative value no limit. See Server for
	// what happens at the limit.
	MaxConnections int
	// PressureConnections is the number of connections above which a new
	// connection makes the server close those idle for longer than
	// PressureIdleTimeout; 0 (or more than MaxConnections) means three
	// quarters of MaxConnections.
	PressureConnections int
	// PressureIdleTimeout is the idle timeout of connections above
	// PressureConnections; 0 means DefaultPressureIdleTimeout.
	PressureIdleTimeout time.Duration
	// Logger receives the server's log lines; nil discards them.
	Logger *slog.Logger
	// Observer, if set, is called for every reply sent.
	Observer Observer

	closing atomic.Bool // set by Shutdown and Close, never cleared

	mu        sync.Mutex
	ctx       context.Context // parent of all lookup contexts; canceled by Close
	cancel    context.CancelFunc
	listeners map[*net.Listener]struct{}
	conns     map[*conn]struct{}
	drained   chan struct{} // made by Shutdown; closed when conns is empty

	// Connection limits (see limit.go).
	lim           limits
	idle          idleList // connections waiting for a request
	leaving       int      // connections in conns closed to make room
	stats         Stats
	unlogged      uint64    // refusals not yet logged
	refusalLogged time.Time // when refusals were last logged
}

// settings are the effective limits, with defaults applied.
type settings struct {
	maxRequest, maxReply, concurrency int
	idle, read, write                 time.Duration
}

func (s *Server) settings() settings {
	return settings{
		maxRequest:  orDefault(s.MaxRequest, DefaultMaxRequest),
		maxReply:    max(orDefault(s.MaxReply, DefaultMaxReply), minReplyLimit),
		concurrency: orDefault(s.Concurrency, DefaultConcurrency),
		idle:        orDefault(s.IdleTimeout, DefaultIdleTimeout),
		read:        orDefault(s.ReadTimeout, DefaultReadTimeout),
		write:       orDefault(s.WriteTimeout, DefaultWriteTimeout),
	}
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// initLocked sets up the server's state on first use; s.mu must be held.
func (s *Server) initLocked() {
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.listeners = make(map[*net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
		s.lim = s.limits()
	}
}

// ListenAndServe listens on network ("tcp", "tcp4", "tcp6" or "unix") and
// addr with Listen, and calls Serve.
func (s *Server) ListenAndServe(network, addr string) error {
	if s.closing.Load() {
		return ErrServerClosed
	}
	l, err := Listen(network, addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Listen is net.Listen, except that for "unix" a socket file left behind
// by a server that is gone (it refuses connections) is removed first; a
// socket with a live server behind it is not touched.
func Listen(network, addr string) (net.Listener, error) {
	l, err := net.Listen(network, addr)
	if err != nil && network == "unix" && removeStaleSocket(addr) {
		l, err = net.Listen(network, addr)
	}
	return l, err
}

// removeStaleSocket removes path if it is a socket that refuses connections,
// and reports whether it did.
func removeStaleSocket(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != fs.ModeSocket {
		return false
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return false
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	return os.Remove(path) == nil
}

// Serve accepts connections on l and serves each in its own goroutines. It
// returns ErrServerClosed after Shutdown or Close, and otherwise the error
// that closed l. Other Accept errors (such as running out of file
// descriptors) are logged and retried after a pause that grows to 1 s.
// Serve closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		l.Close()
		return errors.New("socketmap: Server.Handler is nil")
	}
	if !s.trackListener(&l, true) {
		l.Close()
		return ErrServerClosed
	}
	defer s.trackListener(&l, false)
	defer l.Close()

	log := s.logger()
	var pause time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			log.Warn("socketmap: accept failed; retrying", "err", err, "pause", pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		c, err := s.newConn(nc)
		switch {
		case errors.Is(err, ErrServerClosed):
			nc.Close()
			return err
		case err != nil:
			nc.Close()
			continue
		}
		go c.serve()
	}
}

// trackListener adds or removes l, and reports false when adding to a server
// that is closing.
func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if !add {
		delete(s.listeners, l)
		return true
	}
	if s.closing.Load() {
		return false
	}
	s.listeners[l] = struct{}{}
	return true
}

// closeListeners closes and forgets every listener, and returns the first
// error other than one saying it was closed already.
func (s *Server) closeListeners() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for l := range s.listeners {
		if err := (*l).Close(); err != nil && !errors.Is(err, net.ErrClosed) && first == nil {
			first = err
		}
		delete(s.listeners, l)
	}
	return first
}

// untrack forgets a finished connection.
func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	s.idle.remove(c)
	if c.leaving {
		s.leaving--
	}
	if s.drained != nil && len(s.conns) == 0 {
		select {
		case <-s.drained:
		default:
			close(s.drained)
		}
	}
}

// Shutdown stops the server gracefully, like net/http's: it closes the
// listeners, lets every connection finish the requests it has fully
// received and write their replies, then closes it. Idle connections are
// closed at once. Shutdown returns when all connections are closed, or
// ctx.Err() when ctx ends first; the server is then still closing, and
// Close ends it at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	err := s.closeListeners()

	s.mu.Lock()
	s.initLocked()
	if s.drained == nil {
		s.drained = make(chan struct{})
		if len(s.conns) == 0 {
			close(s.drained)
		}
	}
	drained := s.drained
	for c := range s.conns {
		c.interruptIfIdle()
	}
	s.mu.Unlock()

	select {
	case <-drained:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the server at once: it closes the listeners and every
// connection, and cancels the contexts of lookups in flight. It does not
// wait for lookup goroutines to return. It returns the first error from
// closing a listener.
func (s *Server) Close() error {
	s.closing.Store(true)
	err := s.closeListeners()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	for c := range s.conns {
		c.nc.Close()
	}
	s.cancel() // after closing, so that no canceled lookup gets its reply out
	return err
}
