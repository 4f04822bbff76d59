package enforce

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
)

// heldDecider answers every domain with no policy once a value arrives
// on release (or its context ends), and records how many decisions were
// in flight at most.
type heldDecider struct {
	release chan struct{}
	started chan struct{}

	mu              sync.Mutex
	inFlight, maxIn int
	canceled        int
}

func newHeldDecider() *heldDecider {
	return &heldDecider{release: make(chan struct{}), started: make(chan struct{}, 100)}
}

func (h *heldDecider) Decide(ctx context.Context, domain string) (resolver.Decision, error) {
	h.mu.Lock()
	h.inFlight++
	h.maxIn = max(h.maxIn, h.inFlight)
	h.mu.Unlock()
	h.started <- struct{}{}
	defer func() {
		h.mu.Lock()
		h.inFlight--
		h.mu.Unlock()
	}()
	select {
	case <-h.release:
		return resolver.Decision{Domain: domain, Kind: resolver.NoPolicy}, nil
	case <-ctx.Done():
		h.mu.Lock()
		h.canceled++
		h.mu.Unlock()
		return resolver.Decision{Domain: domain, Kind: resolver.Tempfail, Reason: "canceled"}, ctx.Err()
	}
}

// startEximServer serves an eximServer over h on a UNIX socket and
// returns the server, the socket path and Serve's result.
func startEximServer(t *testing.T, h *heldDecider, maxConns int) (*eximServer, string, <-chan error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "exim.sock")
	l, err := socketmap.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := newEximServer(&Handler{Resolver: h}, slog.New(slog.DiscardHandler), maxConns)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() { s.Close() })
	return s, path, served
}

// askAsync sends a request, and delivers everything read back until the
// server closes the connection.
func askAsync(t *testing.T, path, request string) <-chan string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	c.(*net.UnixConn).CloseWrite()
	answer := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(c)
		answer <- string(b)
	}()
	return answer
}

// Shutdown lets the lookups in flight finish and answer; Serve then
// returns ErrServerClosed.
func TestEximServerShutdownDrains(t *testing.T) {
	h := newHeldDecider()
	s, path, served := startEximServer(t, h, -1)
	answer := askAsync(t, path, "example.com\n")
	<-h.started
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	if err := <-served; !errors.Is(err, socketmap.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	h.release <- struct{}{}
	checkEximAnswer(t, <-answer, map[string]string{"action": "deliver", "domain": "example.com"})
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := net.Dial("unix", path); err == nil {
		t.Error("the socket still accepts connections after Shutdown")
	}
}

// Close cancels the lookups in flight and closes their connections:
// unanswered, or answered "defer" if the canceled lookup is quicker;
// either way Exim defers the mail.
func TestEximServerClose(t *testing.T) {
	h := newHeldDecider()
	s, path, _ := startEximServer(t, h, -1)
	answer := askAsync(t, path, "example.com\n")
	<-h.started
	s.Close()
	if got := <-answer; got != "" {
		checkEximAnswer(t, got, map[string]string{"action": "defer"})
	}
	s.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.canceled != 1 {
		t.Errorf("%d lookups canceled, want 1", h.canceled)
	}
}

// At most maxConns connections are served at once; the others wait.
func TestEximServerConnectionCap(t *testing.T) {
	h := newHeldDecider()
	_, path, _ := startEximServer(t, h, 1)
	var answers []<-chan string
	for range 3 {
		answers = append(answers, askAsync(t, path, "example.com\n"))
	}
	// All three are waiting now; a server without the cap would be
	// looking all three up.
	for range 3 {
		<-h.started
		h.release <- struct{}{}
	}
	for _, a := range answers {
		checkEximAnswer(t, <-a, map[string]string{"action": "deliver"})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.maxIn != 1 {
		t.Errorf("%d lookups in flight at once, want 1", h.maxIn)
	}
}
