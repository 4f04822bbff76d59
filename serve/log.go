package serve

import (
	"bufio"
	"io"
	"log/slog"
	"sync"
	"time"
)

// accessLogFlush is the longest an access log record waits in the buffer.
const accessLogFlush = 200 * time.Millisecond

// newServeLoggers returns the logger of serve and the logger of its
// access log, both JSON or text on w. The access log is buffered (one
// write per accessLogFlush instead of one per request, as nginx's
// "buffer=" does); stop flushes it.
func newServeLoggers(w io.Writer, cfg *Config) (logger, access *slog.Logger, stop func()) {
	bw := newBufferedWriter(w, accessLogFlush)
	return slog.New(newHandler(w, cfg)), slog.New(newHandler(bw, cfg)), bw.close
}

func newHandler(w io.Writer, cfg *Config) slog.Handler {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.NewTextHandler(w, opts)
	}
	return slog.NewJSONHandler(w, opts)
}

// bufferedWriter buffers writes and flushes them periodically. Each
// Write call is kept whole, so log records are never interleaved.
type bufferedWriter struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newBufferedWriter(w io.Writer, every time.Duration) *bufferedWriter {
	b := &bufferedWriter{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.flush()
			case <-b.stop:
				b.flush()
				return
			}
		}
	}()
	return b
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *bufferedWriter) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.w.Flush()
}

// close flushes what is buffered and stops the flushing goroutine.
func (b *bufferedWriter) close() {
	close(b.stop)
	<-b.done
}
