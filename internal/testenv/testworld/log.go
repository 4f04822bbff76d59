package testworld

import (
	"log"
	"strings"
	"sync"
	"testing"
)

// testLog is a writer that sends server error logs to t.Log while the test
// runs and drops them once it has finished (logging after the end of a test
// panics).
type testLog struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

// newLogger returns a logger that writes to t.Log until t's cleanup runs.
// Create it before registering the cleanup that stops the server using it,
// so that it outlives the server.
func newLogger(t testing.TB, prefix string) *log.Logger {
	w := &testLog{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
	})
	return log.New(w, "testworld: "+prefix+": ", 0)
}

// Write implements io.Writer.
func (w *testLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}
