package socketmap

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Handler answers lookups. Lookup may be called concurrently, also for
// requests of one connection. The context is canceled when the server is
// closed (Server.Close) or the reply can no longer be delivered; a Handler
// that waits on I/O should give up then and return any reply.
//
// A Handler that panics gets a TEMP reply sent in its place; the panic is
// logged and the connection stays open.
type Handler interface {
	Lookup(ctx context.Context, req Request) Reply
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req Request) Reply

// Lookup returns f(ctx, req).
func (f HandlerFunc) Lookup(ctx context.Context, req Request) Reply { return f(ctx, req) }

// Observer is told about every reply the server sends: the map name of the
// request ("" when the request could not be parsed), the reply status, and
// the time from reading the request to having the reply ready. It is called
// from many goroutines and must be quick; it is the hook for metrics.
//
// The map name comes from the client. Metrics that use it as a label should
// fold names the server does not serve into one value.
type Observer func(mapName string, status Status, elapsed time.Duration)

// Mux is a Handler that sends each request to the Handler registered for its
// map name, and answers `PERM unknown map "<name>"` for other names. The zero
// Mux serves no map. Handle may be called while the Mux is serving.
type Mux struct {
	mu   sync.Mutex                         // serialises Handle
	maps atomic.Pointer[map[string]Handler] // replaced, never modified, by Handle
}

// Handle registers h for the map name. It panics if name is empty or holds a
// space (Postfix could never send it), if h is nil, or if name is already
// registered.
func (m *Mux) Handle(name string, h Handler) {
	if name == "" || strings.Contains(name, " ") {
		panic(fmt.Sprintf("socketmap: invalid map name %q", name))
	}
	if h == nil {
		panic("socketmap: nil Handler for map " + name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.maps.Load()
	next := make(map[string]Handler, 1)
	if old != nil {
		if _, dup := (*old)[name]; dup {
			panic("socketmap: map " + name + " registered twice")
		}
		for k, v := range *old {
			next[k] = v
		}
	}
	next[name] = h
	m.maps.Store(&next)
}

// HandleFunc registers f for the map name, like Handle.
func (m *Mux) HandleFunc(name string, f func(ctx context.Context, req Request) Reply) {
	m.Handle(name, HandlerFunc(f))
}

// Lookup calls the Handler registered for req.Map.
func (m *Mux) Lookup(ctx context.Context, req Request) Reply {
	if maps := m.maps.Load(); maps != nil {
		if h, ok := (*maps)[req.Map]; ok {
			return h.Lookup(ctx, req)
		}
	}
	return UnknownMap(req.Map)
}

// UnknownMap is the reply to a request for a map that is not served:
// `PERM unknown map "<name>"`. It is permanent because asking again will not
// help: the Postfix configuration names the wrong map.
func UnknownMap(name string) Reply {
	return Perm(fmt.Sprintf("unknown map %q", truncate(name, 64)))
}
