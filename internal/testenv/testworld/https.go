package testworld

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Response is what an HTTPSHost serves at one path.
type Response struct {
	// Status defaults to 200, or 301 with Redirect.
	Status int
	// Header defaults to "Content-Type: text/plain". To send no
	// Content-Type at all, map "Content-Type" to nil.
	Header http.Header
	Body   []byte
	// Delay is slept before the headers are written; the wait ends early
	// if the client goes away.
	Delay time.Duration
	// Stall is slept after the headers are written and flushed, before the
	// body (a slow body).
	Stall time.Duration
	// Chunked sends no Content-Length and flushes the body in pieces.
	Chunked bool
	// Redirect, if set, is sent as the Location header.
	Redirect string
}

// HTTPSHost is an HTTPS server of one host of a World. What it serves,
// with which certificate, can be changed while it runs; all methods are
// safe for concurrent use.
type HTTPSHost struct {
	addr string

	mu       sync.Mutex
	cert     *tls.Certificate
	sni      string
	routes   map[string]Response
	handler  http.Handler
	requests map[string]int
}

// newHTTPSHost serves HTTPS (HTTP/1.1 and HTTP/2) on l with cert until t's
// cleanup.
func newHTTPSHost(t testing.TB, l net.Listener, cert *tls.Certificate) *HTTPSHost {
	h := &HTTPSHost{
		addr:     l.Addr().String(),
		cert:     cert,
		routes:   map[string]Response{},
		requests: map[string]int{},
	}
	cfg := &tls.Config{
		NextProtos:         []string{"h2", "http/1.1"},
		GetConfigForClient: h.checkSNI,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.cert, nil
		},
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(h.serveHTTP),
		ErrorLog:          newLogger(t, "https "+h.addr),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(tls.NewListener(l, cfg)); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("testworld: HTTPS server on %s: %v", h.addr, err)
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	return h
}

// checkSNI fails the handshake if RequireSNI is in force and the client
// sent another server name.
func (h *HTTPSHost) checkSNI(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	h.mu.Lock()
	want := h.sni
	h.mu.Unlock()
	if want != "" && !strings.EqualFold(hello.ServerName, want) {
		return nil, fmt.Errorf("testworld: client sent SNI %q, want %q", hello.ServerName, want)
	}
	return nil, nil
}

// Set makes the host serve r at path (the URL path, without query).
// Paths not set are answered with 404.
func (h *HTTPSHost) Set(path string, r Response) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.routes[path] = r
}

// SetHandler makes hd answer every request instead of the responses given
// to Set; nil restores them. Requests are still counted.
func (h *HTTPSHost) SetHandler(hd http.Handler) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.handler = hd
}

// SetCert makes the host present c, whatever SNI the client sends (or none).
func (h *HTTPSHost) SetCert(c *tls.Certificate) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cert = c
}

// RequireSNI makes TLS handshakes fail unless the client sends name as
// SNI (compared case-insensitively); "" lifts the requirement.
func (h *HTTPSHost) RequireSNI(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sni = name
}

// Requests returns how many requests for path the host received.
func (h *HTTPSHost) Requests(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests[path]
}

// Addr returns the real listener address, "ip:port".
func (h *HTTPSHost) Addr() string { return h.addr }

// serveHTTP counts the request and routes it.
func (h *HTTPSHost) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.requests[r.URL.Path]++
	hd := h.handler
	resp, ok := h.routes[r.URL.Path]
	h.mu.Unlock()
	switch {
	case hd != nil:
		hd.ServeHTTP(w, r)
	case !ok:
		http.NotFound(w, r)
	default:
		resp.serve(w, r)
	}
}

// chunkedPieces is how many flushed pieces a Chunked body is sent in.
const chunkedPieces = 4

// serve writes the response, honouring its delays.
func (resp Response) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !sleep(ctx, resp.Delay) {
		// The request was cancelled: break the connection rather than
		// answer 200 with no body, which a client would take for an
		// answer.
		panic(http.ErrAbortHandler)
	}
	hdr := w.Header()
	if resp.Header == nil {
		hdr.Set("Content-Type", "text/plain")
	} else {
		maps.Copy(hdr, resp.Header)
	}
	status := resp.Status
	if resp.Redirect != "" {
		hdr.Set("Location", resp.Redirect)
		if status == 0 {
			status = http.StatusMovedPermanently
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	if !resp.Chunked {
		hdr.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	}
	w.WriteHeader(status)

	rc := http.NewResponseController(w)
	if resp.Stall > 0 {
		_ = rc.Flush()
		if !sleep(ctx, resp.Stall) {
			panic(http.ErrAbortHandler) // a truncated body, not a short one
		}
	}
	if !resp.Chunked {
		_, _ = w.Write(resp.Body)
		return
	}
	body := resp.Body
	size := max(1, (len(body)+chunkedPieces-1)/chunkedPieces)
	for len(body) > 0 {
		n := min(size, len(body))
		if _, err := w.Write(body[:n]); err != nil {
			return
		}
		_ = rc.Flush()
		body = body[n:]
	}
}

// sleep waits for d or until ctx is done, and reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
