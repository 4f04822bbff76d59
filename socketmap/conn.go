package socketmap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Closing a socket with unread input makes the kernel send a reset, which
// can destroy replies the client has not read yet. After a protocol error
// the server therefore half-closes, then reads and drops what the client
// still sends, up to these limits, before closing.
const (
	lingerTimeout = 500 * time.Millisecond
	lingerBytes   = 64 << 10
)

// aLongTimeAgo is a deadline in the past, to interrupt a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// conn is the server side of one client connection.
type conn struct {
	srv *Server
	nc  net.Conn
	br  *bufio.Reader
	set settings
	log *slog.Logger

	// ctx is the parent of this connection's lookups, canceled when the
	// server is closed, a write fails, or the connection is done.
	ctx    context.Context
	cancel context.CancelFunc

	// pending holds calls in request order, from the reader to the writer.
	pending chan *call
	// inFlight has a token for each call read but not yet answered.
	inFlight   chan struct{}
	writerDone chan struct{}
	// queued counts the calls given to the writer whose replies it has not
	// yet flushed. While it is 0 the writer is idle and owns nothing, and
	// the reader may run a lookup itself and write the reply (see inline).
	queued atomic.Int32
	// out buffers replies: the writer's, and the reader's while queued is 0.
	out replyWriter

	mu        sync.Mutex // guards state, evicted and the read deadline against Shutdown
	state     readState
	idleArmed bool // the read deadline is an idle deadline, extended lazily
	evicted   bool // closed to make room for new connections

	// Guarded by srv.mu: the connection's place on the server's idle list.
	idlePrev, idleNext *conn
	idleListed         bool
	idleSince          time.Time // when it began to wait
	leaving            bool      // evicted, still counted among the connections

	offset int64  // stream offset of the next request, for log lines
	buf    []byte // reused request buffer
}

// readState is what the reader of a connection is doing.
type readState int

const (
	readStarting readState = iota // not yet waiting for a request
	readIdle                      // waiting for the first byte of a request
	readBusy                      // reading a request, or handing it on
)

// call is one request on its way through a connection.
type call struct {
	mapName string
	start   time.Time
	wire    []byte        // the encoded reply, set before done is closed
	done    chan struct{} // closed when wire is ready
}

// errTooManyConnections refuses a connection at MaxConnections.
var errTooManyConnections = errors.New("socketmap: too many connections")

// newConn registers a connection for nc. It returns ErrServerClosed when
// the server is closing, and errTooManyConnections when MaxConnections are
// open and none is idle (see admitLocked).
func (s *Server) newConn(nc net.Conn) (*conn, error) {
	c, unlogged, err := s.register(nc)
	if unlogged > 0 {
		st := s.Stats()
		s.logger().Warn("socketmap: refused connections: too many open, none idle",
			"refused", unlogged, "refused_total", st.Refused, "open", st.Open, "max_connections", s.lim.max)
	}
	return c, err
}

// register is newConn under s.mu; it also returns the number of refused
// connections to log now.
func (s *Server) register(nc net.Conn) (*conn, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if s.closing.Load() {
		return nil, 0, ErrServerClosed
	}
	now := time.Now()
	if !s.admitLocked(now) {
		return nil, s.refusedLocked(now), errTooManyConnections
	}
	set := s.settings()
	c := &conn{
		srv:        s,
		nc:         nc,
		br:         bufio.NewReader(nc),
		set:        set,
		log:        s.logger().With("remote", remoteAddr(nc)),
		pending:    make(chan *call, set.concurrency),
		inFlight:   make(chan struct{}, set.concurrency),
		writerDone: make(chan struct{}),
	}
	c.out = replyWriter{nc: nc, timeout: set.write, failed: c.writeFailed}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	s.conns[c] = struct{}{}
	s.stats.Accepted++
	if s.lim.max > 0 {
		// A new connection waits for its first request from now on.
		c.idleSince = now
		s.idle.pushBack(c)
	}
	return c, 0, nil
}

func remoteAddr(nc net.Conn) string {
	a := nc.RemoteAddr()
	switch {
	case a == nil:
		return "unknown"
	case a.String() == "" || a.String() == "@":
		return a.Network() // an unnamed unix socket peer
	}
	return a.String()
}

// serve runs the connection until the client leaves, a fatal protocol error,
// a timeout, or the server stops; then it waits for the replies to be
// written and closes the connection. When a slow lookup hands reading over
// to another goroutine (see inlineLookup), serve returns once that lookup
// is answered, and the other goroutine finishes the connection.
func (c *conn) serve() {
	go c.writeLoop()
	c.read()
}

// read reads requests as long as this goroutine is the reader, and
// finishes the connection when reading ends.
func (c *conn) read() {
	linger, handedOff := c.readLoop()
	if handedOff {
		return
	}
	close(c.pending)
	<-c.writerDone
	if linger {
		c.lingerClose()
	}
	c.nc.Close()
	c.cancel()
	c.srv.untrack(c)
}

// readLoop reads and dispatches requests until it must stop, and reports
// whether the client may still be sending, so that the close should linger,
// or that another goroutine took over reading during a slow lookup.
//
// A request that comes alone (no other reply is on its way and no further
// request is buffered, as with Postfix, which waits for each reply) is
// looked up in this goroutine and answered directly; others are looked up
// concurrently, and the writer sends their replies in order.
func (c *conn) readLoop() (linger, handedOff bool) {
	var in *inlineLookup
	for {
		if ok, linger := c.awaitRequest(); !ok {
			return linger, false
		}
		payload, err := readNetstring(c.br, c.set.maxRequest, c.buf[:0])
		if err != nil {
			keep, linger := c.readFailed(err)
			if !keep {
				return linger, false
			}
			continue
		}
		c.buf = payload
		start := c.offset
		c.offset += int64(frameLen(len(payload)))
		req, err := ParseRequest(payload)
		if err != nil {
			var pe *ProtocolError
			errors.As(err, &pe)
			c.log.Warn("socketmap: malformed request", "offset", start, "err", err)
			c.answer("", Perm("malformed request: "+pe.describe()))
			continue
		}
		if c.queued.Load() != 0 || c.br.Buffered() != 0 {
			c.dispatch(req)
			continue
		}
		if in == nil {
			in = &inlineLookup{c: c}
		}
		if !in.run(req) {
			return false, true
		}
	}
}

// awaitRequest waits up to the idle timeout for the first byte of the next
// request and reports whether it came. It gives up at once when the server
// is shutting down. When it gives up it also reports whether the client may
// still be sending: it has sent input not yet read, or has lookups in
// flight, as a pipelining client would.
//
// Setting a deadline costs a timer update, so the idle deadline is set once
// and extended only when it passes early: a deadline set for an earlier
// wait, before the client's last requests.
func (c *conn) awaitRequest() (ok, linger bool) {
	waitStart := time.Now()
	wait := c.br.Buffered() == 0 // else the next request has begun
	if wait {
		c.srv.setIdle(c, waitStart)
	}
	c.mu.Lock()
	if !c.idleArmed {
		c.nc.SetReadDeadline(waitStart.Add(c.set.idle))
		c.idleArmed = true
	}
	c.state = readIdle
	closing, evicted := c.srv.closing.Load(), c.evicted
	c.mu.Unlock()
	switch {
	case closing:
		c.log.Debug("socketmap: closing connection for shutdown")
	case evicted:
		c.log.Debug("socketmap: closing connection to make room for new ones")
	}
	if closing || evicted {
		return false, c.br.Buffered() > 0 || len(c.inFlight) > 0
	}
	_, err := c.br.Peek(1)
	for errors.Is(err, os.ErrDeadlineExceeded) && c.extendIdle(waitStart) {
		_, err = c.br.Peek(1)
	}

	c.mu.Lock()
	c.state = readBusy
	if err == nil && !c.requestBuffered() {
		// ReadTimeout bounds the time until the request's last byte; a
		// request already buffered is read without waiting.
		c.nc.SetReadDeadline(time.Now().Add(c.set.read))
		c.idleArmed = false
	}
	evicted = c.evicted
	c.mu.Unlock()
	if wait {
		c.srv.setBusy(c)
	}
	switch {
	case err == nil:
		return true, false
	case err == io.EOF:
		c.log.Debug("socketmap: client closed connection")
		return false, false
	case errors.Is(err, os.ErrDeadlineExceeded) && c.srv.closing.Load():
		c.log.Debug("socketmap: closing idle connection for shutdown")
	case errors.Is(err, os.ErrDeadlineExceeded) && evicted:
		c.log.Debug("socketmap: closing idle connection to make room for new ones")
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.log.Debug("socketmap: closing idle connection", "idle_timeout", c.set.idle)
	default:
		c.log.Debug("socketmap: read failed", "err", err)
		return false, false
	}
	return false, len(c.inFlight) > 0
}

// extendIdle moves a read deadline that passed during the wait that began
// at waitStart to the end of this wait's idle timeout, and reports whether
// it did: not when that has passed too, nor when the server is closing.
func (c *conn) extendIdle(waitStart time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := waitStart.Add(c.set.idle)
	if c.srv.closing.Load() || c.evicted || !time.Now().Before(end) {
		return false
	}
	c.nc.SetReadDeadline(end)
	return true
}

// requestBuffered reports whether the reader holds the whole next
// netstring, so that reading it cannot wait for the client. It may report
// false for some that it holds (malformed ones).
func (c *conn) requestBuffered() bool {
	b, _ := c.br.Peek(c.br.Buffered())
	n, i := 0, 0
	for ; i < len(b) && i < maxLengthDigits && '0' <= b[i] && b[i] <= '9'; i++ {
		n = n*10 + int(b[i]-'0')
	}
	return i > 0 && i < len(b) && b[i] == ':' && len(b)-i-2 >= n
}

// interruptIfIdle makes a reader that waits for a new request give up, so
// that Shutdown closes idle connections at once.
func (c *conn) interruptIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == readIdle {
		c.nc.SetReadDeadline(aLongTimeAgo)
		c.idleArmed = false
	}
}

// evict makes an idle connection, one that waits for a request (or has
// not yet begun to) with no lookup in flight, give up and close, and
// reports whether it did.
func (c *conn) evict() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == readBusy || len(c.inFlight) > 0 {
		return false
	}
	c.evicted = true
	if c.state == readIdle {
		c.nc.SetReadDeadline(aLongTimeAgo)
		c.idleArmed = false
	}
	return true
}

// readFailed handles an error from reading a request. It reports whether
// the connection can go on, and if not, whether unread input may remain.
func (c *conn) readFailed(err error) (keep, linger bool) {
	var pe *ProtocolError
	isProto := errors.As(err, &pe)
	offset := c.offset
	if isProto {
		offset += int64(pe.Offset)
	}
	switch {
	case isProto && errors.Is(err, ErrTooLong):
		reason := fmt.Sprintf("request too long (limit %d bytes)", c.set.maxRequest)
		if pe.Length > 0 {
			reason = fmt.Sprintf("request too long (%d bytes, limit %d)", pe.Length, c.set.maxRequest)
		}
		if pe.Length == 0 || pe.Length > maxDiscard {
			c.log.Warn("socketmap: request too long; closing connection", "offset", offset, "err", err)
			c.answer("", Perm(reason))
			return false, true
		}
		if derr := discardPayload(c.br, pe); derr != nil {
			c.log.Warn("socketmap: request too long, then broken; closing connection", "offset", offset, "err", derr)
			c.answer("", Perm(reason))
			return false, true
		}
		c.log.Warn("socketmap: request too long", "offset", offset, "length", pe.Length, "limit", c.set.maxRequest)
		c.offset += int64(frameLen(pe.Length))
		c.answer("", Perm(reason))
		return true, false
	case isProto && errors.Is(err, ErrSyntax):
		c.log.Warn("socketmap: malformed netstring; closing connection", "offset", offset, "err", err)
		c.answer("", Perm("malformed request: "+pe.describe()))
		return false, true
	case isProto: // io.ErrUnexpectedEOF
		c.log.Warn("socketmap: client closed connection inside a request", "offset", offset)
		return false, false
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.log.Warn("socketmap: request not complete in time; closing connection", "offset", offset, "read_timeout", c.set.read)
		return false, true
	default:
		c.log.Debug("socketmap: read failed", "offset", offset, "err", err)
		return false, false
	}
}

// dispatch starts the lookup of req, waiting while Concurrency lookups are
// in flight.
func (c *conn) dispatch(req Request) {
	cl := &call{mapName: req.Map, start: time.Now(), done: make(chan struct{})}
	c.enqueue(cl)
	go func() { c.complete(cl, c.lookup(req)) }()
}

// answer queues a reply that needs no lookup.
func (c *conn) answer(mapName string, r Reply) {
	cl := &call{mapName: mapName, start: time.Now(), done: make(chan struct{})}
	c.enqueue(cl)
	c.complete(cl, r)
}

// enqueue gives cl to the writer, waiting while Concurrency lookups are in
// flight.
func (c *conn) enqueue(cl *call) {
	c.inFlight <- struct{}{}
	c.queued.Add(1)
	c.pending <- cl
}

// lookup calls the Handler, turning a panic into a TEMP reply.
func (c *conn) lookup(req Request) (r Reply) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("socketmap: handler panicked", "map", req.Map, "key", truncate(req.Key, 256),
				"panic", v, "stack", string(debug.Stack()))
			r = Temp("internal error")
		}
	}()
	return c.srv.Handler.Lookup(c.ctx, req)
}

// complete encodes the reply of cl and hands it to the writer.
func (c *conn) complete(cl *call, r Reply) {
	cl.wire = c.encode(nil, cl.mapName, cl.start, time.Now(), r)
	close(cl.done)
}

// encode appends the reply r, made to fit, to dst, and tells the Observer
// that it was ready at end.
func (c *conn) encode(dst []byte, mapName string, start, end time.Time, r Reply) []byte {
	r, note := r.fit(c.set.maxReply)
	if note != "" {
		c.log.Warn("socketmap: reply changed to fit the protocol", "map", mapName, "problem", note)
	}
	dst = appendFrame(dst, string(r.Status), " ", r.Data)
	if obs := c.srv.Observer; obs != nil {
		obs(mapName, r.Status, end.Sub(start))
	}
	return dst
}

// writeLoop writes the replies in request order. It flushes only when it
// would otherwise wait, so that replies ready together leave in one write
// and a ready reply never waits behind a slow one still to come. Once the
// replies it was given are flushed, it hands the output back to the reader
// (see queued).
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	var written int32 // replies written since the last flush
	flush := func() {
		if written == 0 {
			return // c.out may be the reader's
		}
		c.out.flush(time.Now())
		if c.queued.Add(-written) == 0 {
			c.idleAgain()
		}
		written = 0
	}
	for {
		var cl *call
		var ok bool
		select {
		case cl, ok = <-c.pending:
		default:
			flush()
			cl, ok = <-c.pending
		}
		if !ok {
			break
		}
		select {
		case <-cl.done:
		default:
			flush()
			<-cl.done
		}
		c.out.write(cl.wire)
		written++
		<-c.inFlight
	}
	flush()
}

// idleAgain puts the connection back on the server's idle list once its
// last reply is out while its reader waits for a request: it was taken
// off when found waiting with lookups in flight (see evict).
func (c *conn) idleAgain() {
	if c.srv.lim.max == 0 {
		return
	}
	c.mu.Lock()
	waiting := c.state == readIdle && !c.evicted
	c.mu.Unlock()
	if waiting {
		c.srv.setIdle(c, time.Now())
	}
}

// writeFailed gives up on a connection whose client no longer reads: the
// lookups in flight are canceled and the reader is stopped.
func (c *conn) writeFailed(err error) {
	c.log.Debug("socketmap: write failed; closing connection", "err", err)
	c.cancel()
	c.nc.Close()
}

// lingerClose half-closes the connection and drains what the client still
// sends, briefly, so that the client reads our last replies before the
// connection goes away.
func (c *conn) lingerClose() {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.CopyN(io.Discard, c.nc, lingerBytes)
}
