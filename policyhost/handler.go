package policyhost

import (
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/mtasts/mtasts/sts"
)

// Policy is one served policy: what Handler answers for
// https://mta-sts.<Domain>/.well-known/mta-sts.txt.
type Policy struct {
	// Domain is the normalized policy domain.
	Domain string
	// ID is the policy id published in the _mta-sts TXT record.
	ID string
	// Text is the policy file, with CRLF line endings (RFC 8461 §3.2).
	Text []byte
}

// Header values of a policy response, shared by every response (net/http
// only reads them).
var (
	headerTextPlain = []string{"text/plain; charset=utf-8"}
	headerNoStore   = []string{"no-store"}
	headerNoSniff   = []string{"nosniff"}
)

// policyEntry is a Policy ready to be written.
type policyEntry struct {
	Policy
	length []string // Content-Length
}

// site is an immutable snapshot of what is served, swapped as a whole.
type site struct {
	hosts map[string]*policyEntry // "mta-sts.<domain>" → policy
}

// Handler is the http.Handler of the policy hosts. For a host
// "mta-sts.<domain>" of a served domain it answers GET and HEAD of
// /.well-known/mta-sts.txt with the policy (RFC 8461 §3.3), passes other
// paths to the handlers given to Mount, and answers 404 when none
// matches. Requests for any other host get 421 Misdirected Request, never
// another domain's policy. It never redirects: a redirect written by a
// mounted handler is turned into 404, since senders must not follow
// redirects (§3.3).
//
// Handler is safe for concurrent use; SetPolicies and Mount may be called
// while it serves.
type Handler struct {
	site    atomic.Pointer[site]
	mux     *http.ServeMux
	mounted atomic.Bool
}

// NewHandler returns a Handler that serves no domain yet.
func NewHandler() *Handler {
	h := &Handler{mux: http.NewServeMux()}
	h.site.Store(&site{hosts: map[string]*policyEntry{}})
	return h
}

// SetPolicies replaces the served policies at once: a request sees either
// the old set or the new one.
func (h *Handler) SetPolicies(ps []Policy) {
	s := &site{hosts: make(map[string]*policyEntry, len(ps))}
	for _, p := range ps {
		s.hosts["mta-sts."+p.Domain] = &policyEntry{Policy: p, length: []string{strconv.Itoa(len(p.Text))}}
	}
	h.site.Store(s)
}

// Policies returns the served policies, in no particular order.
func (h *Handler) Policies() []Policy {
	s := h.site.Load()
	out := make([]Policy, 0, len(s.hosts))
	for _, e := range s.hosts {
		out = append(out, e.Policy)
	}
	return out
}

// Mount registers hd for pattern, in the syntax of http.ServeMux, for
// requests to the policy hosts other than the policy itself: for example
// "POST /tlsrpt" for a TLS-RPT report endpoint (RFC 8460 §3) or "/dash/"
// for a dashboard. The policy path cannot be mounted over.
func (h *Handler) Mount(pattern string, hd http.Handler) {
	h.mux.Handle(pattern, hd)
	h.mounted.Store(true)
}

// domainOf returns the policy domain served at host, or "".
func (h *Handler) domainOf(host string) string {
	if e := h.site.Load().hosts[host]; e != nil {
		return e.Domain
	}
	return ""
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := requestHost(r.Host)
	e := h.site.Load().hosts[host]
	if e == nil {
		misdirected(w)
		return
	}
	// The connection was opened for another name (HTTP/2 connection
	// reuse, or a client that lies): RFC 9110 §15.5.20 says 421, and the
	// client retries on a connection of its own.
	if r.TLS != nil && r.TLS.ServerName != "" && requestHost(r.TLS.ServerName) != host {
		misdirected(w)
		return
	}
	if r.URL.Path != sts.PolicyPath {
		h.serveMounted(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// RFC 8461 §3.2: text/plain; §3.3: senders must not use HTTP caching,
	// and no-store keeps shared caches on the way from keeping old
	// policies too.
	hdr := w.Header()
	hdr["Content-Type"] = headerTextPlain
	hdr["Cache-Control"] = headerNoStore
	hdr["X-Content-Type-Options"] = headerNoSniff
	hdr["Content-Length"] = e.length
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(e.Text)
	}
}

// serveMounted passes r to the mounted handlers, if one matches.
func (h *Handler) serveMounted(w http.ResponseWriter, r *http.Request) {
	if !h.mounted.Load() || !isCleanPath(r.URL.Path) {
		http.NotFound(w, r)
		return
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		http.NotFound(w, r)
		return
	}
	h.mux.ServeHTTP(&noRedirectWriter{ResponseWriter: w}, r)
}

// isCleanPath reports whether p needs no cleaning (which http.ServeMux
// would answer with a redirect).
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	return c == p || c+"/" == p
}

// misdirected answers a request for a host this server does not serve.
func misdirected(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	http.Error(w, "421 misdirected request: no MTA-STS policy host of that name here", http.StatusMisdirectedRequest)
}

// requestHost returns the host of a Host header or SNI name, without
// port, lower-case and without trailing dot.
func requestHost(hostport string) string {
	host := hostport
	if strings.LastIndexByte(host, ':') >= 0 {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	host = strings.TrimSuffix(host, ".")
	return strings.ToLower(host)
}

// noRedirectWriter turns redirects written by a mounted handler into 404
// (RFC 8461 §3.3: no redirects on a policy host).
type noRedirectWriter struct {
	http.ResponseWriter
	blocked bool
}

func (w *noRedirectWriter) WriteHeader(code int) {
	switch code {
	case http.StatusMultipleChoices, http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		w.blocked = true
		hdr := w.Header()
		hdr.Del("Location")
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		w.ResponseWriter.WriteHeader(http.StatusNotFound)
		_, _ = w.ResponseWriter.Write([]byte("404 page not found\n"))
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *noRedirectWriter) Write(b []byte) (int, error) {
	if w.blocked {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *noRedirectWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
