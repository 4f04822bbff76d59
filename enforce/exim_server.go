package enforce

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/mtasts/mtasts/socketmap"
)

// eximTimeout bounds reading an Exim request, and writing its answer.
// Exim writes its request at once, and gives up waiting for the answer
// after its readsocket timeout.
const eximTimeout = 10 * time.Second

// eximServer answers Exim's ${readsocket} requests (see EximAnswer): one
// request and one answer per connection, which it then closes. At most
// maxConns connections are served at once; more wait in the listen queue,
// and Exim's readsocket timeout defers the mail if they wait too long.
type eximServer struct {
	handler *Handler
	log     *slog.Logger
	slots   chan struct{}   // one per connection served
	quit    chan struct{}   // closed when the listeners are
	ctx     context.Context // of the lookups; canceled by Close
	cancel  context.CancelFunc

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup // connections being served
}

// newEximServer returns a server answering with h, serving at most
// maxConns connections at once: as max_connections, 0 means
// socketmap.DefaultMaxConnections and -1 no cap.
func newEximServer(h *Handler, log *slog.Logger, maxConns int) *eximServer {
	if maxConns == 0 {
		maxConns = socketmap.DefaultMaxConnections()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &eximServer{handler: h, log: log, quit: make(chan struct{}), ctx: ctx, cancel: cancel,
		listeners: map[net.Listener]struct{}{}, conns: map[net.Conn]struct{}{}}
	if maxConns > 0 {
		s.slots = make(chan struct{}, maxConns)
	}
	return s
}

// Serve answers the connections of l until Shutdown or Close, or until l
// fails. It returns socketmap.ErrServerClosed after Shutdown or Close.
func (s *eximServer) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return socketmap.ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	var backoff time.Duration
	for {
		if s.slots != nil {
			select {
			case s.slots <- struct{}{}:
			case <-s.quit:
				return socketmap.ErrServerClosed
			}
		}
		c, err := l.Accept()
		if err != nil {
			s.release()
			if s.isClosed() {
				return socketmap.ErrServerClosed
			}
			if retryAccept(err, &backoff) {
				continue
			}
			return err
		}
		backoff = 0
		if !s.track(c) {
			c.Close()
			s.release()
			return socketmap.ErrServerClosed
		}
		go func() {
			defer s.release()
			defer s.untrack(c)
			s.serveConn(c)
		}()
	}
}

// retryAccept reports whether an Accept error is worth retrying: out of
// file descriptors, or a timeout; it first waits, longer each time in a
// row, up to a second.
func retryAccept(err error, backoff *time.Duration) bool {
	var ne net.Error
	if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) && !(errors.As(err, &ne) && ne.Timeout()) {
		return false
	}
	*backoff = min(max(2**backoff, 5*time.Millisecond), time.Second)
	time.Sleep(*backoff)
	return true
}

// release frees a connection slot.
func (s *eximServer) release() {
	if s.slots != nil {
		<-s.slots
	}
}

func (s *eximServer) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// track registers a new connection, unless the server is closed.
func (s *eximServer) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *eximServer) untrack(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// serveConn reads one request from c and writes its answer. A request
// that is not one lookup key and a newline is answered "defer", so that
// Exim keeps the mail rather than deliver it unchecked, and logged.
func (s *eximServer) serveConn(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(eximTimeout))
	key, err := ReadEximRequest(c)
	var answer string
	if err != nil {
		s.log.Warn("exim: bad request", "socket", c.LocalAddr().String(), "err", err)
		answer = EximAnswer(Result{Reply: socketmap.Temp("mtasts: " + err.Error())})
	} else {
		res := s.handler.Resolve(s.ctx, key)
		s.handler.record(s.ctx, key, res)
		answer = EximAnswer(res)
	}
	// The lookup may have taken up to query_timeout.
	c.SetWriteDeadline(time.Now().Add(eximTimeout))
	if _, err := c.Write([]byte(answer)); err != nil {
		s.log.Debug("exim: writing the answer", "err", err)
	}
}

// Shutdown stops accepting connections and waits for those being served
// until ctx ends; then it closes them.
func (s *eximServer) Shutdown(ctx context.Context) error {
	s.closeListeners()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close stops accepting connections and closes those being served.
func (s *eximServer) Close() error {
	s.closeListeners()
	s.cancel()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	return nil
}

// closeListeners marks the server closed and closes its listeners.
func (s *eximServer) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.quit)
	}
	for l := range s.listeners {
		l.Close()
	}
}
