package socketmap

import (
	"bufio"
	"context"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"
)

// shutdownAsync starts ts.Shutdown and waits until the listener is closed.
func shutdownAsync(t *testing.T, ts *testServer, ctx context.Context) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(ctx) }()
	waitFor(t, "the listener to close", func() bool {
		c, err := net.Dial(ts.network, ts.addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	return done
}

func notReturned(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v %s", err, what)
	default:
	}
}

// TestServerShutdownDrains starts Shutdown while a slow lookup runs: idle
// connections close at once, the slow reply is still written, and Shutdown
// returns once it has been.
func TestServerShutdownDrains(t *testing.T) {
	networks(t, func(t *testing.T, network string) {
		handler := newHoldingHandler()
		ts := startServer(t, network, &Server{Handler: handler})

		idle := ts.dial(t)
		idle.Write(requests("m fast"))
		idleR := bufio.NewReader(idle)
		readReplies(t, idleR, 1)

		busy := ts.dial(t)
		busy.Write(requests("m slow"))
		handler.waitHeld(t, 1)

		done := shutdownAsync(t, ts, context.Background())
		expectClosed(t, idleR)
		notReturned(t, done, "with a lookup in flight")

		close(handler.release)
		lastReplies(t, busy, "OK slow")
		if err := <-done; err != nil {
			t.Errorf("Shutdown = %v", err)
		}
		if err := ts.wait(); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
	})
}

// TestServerShutdownPartialRequest starts Shutdown while a request is half
// received: the server waits for the rest, answers, then closes.
func TestServerShutdownPartialRequest(t *testing.T) {
	ts := startServer(t, "tcp", &Server{})
	c := ts.dial(t)
	c.Write([]byte("9:echo "))
	waitFor(t, "the server to start reading the request", func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		for sc := range ts.conns {
			sc.mu.Lock()
			reading := sc.state == readBusy
			sc.mu.Unlock()
			if reading {
				return true
			}
		}
		return false
	})
	done := shutdownAsync(t, ts, context.Background())
	notReturned(t, done, "with a request half received")
	c.Write([]byte("half,"))
	lastReplies(t, c, "OK half")
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

// TestServerShutdownTimeoutThenClose: a lookup that does not end makes
// Shutdown give up with its context; Close then cancels the lookup's
// context and everything ends.
func TestServerShutdownTimeoutThenClose(t *testing.T) {
	started := make(chan struct{})
	handler := HandlerFunc(func(ctx context.Context, r Request) Reply {
		close(started)
		<-ctx.Done()
		return Temp("canceled")
	})
	ts := startServer(t, "unix", &Server{Handler: handler})
	base := runtime.NumGoroutine()
	c := ts.dial(t)
	c.Write(requests("m stuck"))
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
	if err := ts.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	expectClosed(t, bufio.NewReader(c))
	waitGoroutines(t, base)
}

func TestServerShutdownIdle(t *testing.T) {
	ts := startServer(t, "tcp", &Server{})
	ts.lookupOK(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if err := ts.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}
}
