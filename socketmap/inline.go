package socketmap

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// handOffAfter is how long a lookup may run in the reading goroutine
// before another goroutine takes over reading the connection.
const handOffAfter = 2 * time.Millisecond

// States of an inlineLookup.
const (
	inlineIdle      int32 = iota // no lookup running
	inlineRunning                // the reader runs a lookup
	inlineHandedOff              // that lookup was slow: another goroutine reads
)

// inlineLookup runs lookups in the goroutine that reads the connection, to
// spare a goroutine, its stack growth and two hand-overs per request when
// requests come one at a time (Postfix waits for each reply). A lookup
// that runs longer than handOffAfter makes a timer start a new goroutine
// that goes on reading, so that the client's further requests, its
// disconnection or a Shutdown are still noticed: the slow lookup then
// becomes an ordinary call, answered through the writer in order.
//
// Each reading goroutine has its own inlineLookup.
type inlineLookup struct {
	c     *conn
	timer *time.Timer // calls handOff; made on first use
	state atomic.Int32

	// Set by the reader before state becomes inlineRunning.
	mapName string
	start   time.Time

	mu   sync.Mutex // held by handOff while it makes call
	call *call      // the lookup as an ordinary call, after a hand-off
}

// run looks up req and writes its reply, and reports true, unless the
// lookup was slow and another goroutine took over reading: then it passes
// the reply to the writer and reports false. It must be called only while
// the writer is idle (c.queued is 0).
func (in *inlineLookup) run(req Request) bool {
	c := in.c
	in.mapName, in.start = req.Map, time.Now()
	in.state.Store(inlineRunning)
	if in.timer == nil {
		in.timer = time.AfterFunc(handOffAfter, in.handOff)
	} else {
		in.timer.Reset(handOffAfter)
	}
	r := c.lookup(req)
	in.timer.Stop()
	if !in.state.CompareAndSwap(inlineRunning, inlineIdle) {
		in.mu.Lock()
		cl := in.call
		in.mu.Unlock()
		c.complete(cl, r)
		return false
	}
	end := time.Now()
	c.out.buf = c.encode(c.out.buf, req.Map, in.start, end, r)
	c.out.flush(end)
	return true
}

// handOff, called by the timer in a goroutine of its own, turns a lookup
// still running into an ordinary call and makes this goroutine the
// connection's reader.
func (in *inlineLookup) handOff() {
	c := in.c
	in.mu.Lock()
	if !in.state.CompareAndSwap(inlineRunning, inlineHandedOff) {
		in.mu.Unlock()
		return // the lookup returned in time
	}
	in.call = &call{mapName: in.mapName, start: in.start, done: make(chan struct{})}
	// The writer is idle, so a token is free and the queue is empty: this
	// does not wait.
	c.enqueue(in.call)
	in.mu.Unlock()
	c.read()
}

// replyWriter buffers replies for one connection and writes them, each
// flush within the write timeout. Like the read deadline, the write
// deadline is set only when the one set before has passed.
type replyWriter struct {
	nc      net.Conn
	timeout time.Duration
	failed  func(error) // called once, on the first failed write

	buf   []byte
	armed bool  // a write deadline is set
	err   error // the first write error; later replies are dropped
}

// Output buffer sizes: replies are flushed once this much is buffered, and
// a larger buffer is not kept after a flush.
const (
	writeBufferSize = 4 << 10
	keepBufferSize  = 64 << 10
)

// write buffers p, flushing first when the buffer is full.
func (w *replyWriter) write(p []byte) {
	if len(w.buf) > 0 && len(w.buf)+len(p) > writeBufferSize {
		w.flush(time.Now())
	}
	w.buf = append(w.buf, p...)
}

// flush writes what is buffered, begun at now, within the write timeout.
func (w *replyWriter) flush(now time.Time) {
	b := w.buf
	w.buf = w.buf[:0]
	if cap(w.buf) > keepBufferSize {
		w.buf = nil
	}
	if w.err != nil || len(b) == 0 {
		return
	}
	end := now.Add(w.timeout)
	if !w.armed {
		w.nc.SetWriteDeadline(end)
		w.armed = true
	}
	for len(b) > 0 {
		n, err := w.nc.Write(b)
		b = b[n:]
		switch {
		case err == nil && n == 0:
			err = io.ErrShortWrite
		case err == nil:
			continue
		case errors.Is(err, os.ErrDeadlineExceeded) && time.Now().Before(end):
			// The deadline of an earlier flush.
			w.nc.SetWriteDeadline(end)
			continue
		}
		w.err = err
		w.failed(err)
		return
	}
}
