package ingest

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// DefaultMaxBody is the default cap on the body of a POSTed report, as
// sent (compressed or not): 5 MiB.
const DefaultMaxBody = 5 << 20

// HandlerOptions tune Handler. The zero value is ready to use.
type HandlerOptions struct {
	// MaxBody caps the request body in bytes; 0 means DefaultMaxBody.
	// The decompressed report is capped by Config.MaxSize.
	MaxBody int64
}

// Handler returns the HTTPS endpoint of RFC 8460 §5.4, where senders
// POST a report with Content-Type application/tlsrpt+gzip or
// application/tlsrpt+json (§6.4, §6.5; application/json and
// application/gzip are tolerated). It answers
//
//	201 Created      the report is stored
//	200 OK           the report was already stored (a duplicate)
//	400 Bad Request  the body is not a report; it is kept in quarantine
//	405, 413, 415    not a POST, too large, not a report media type
//	503              the store failed; the sender should retry (Retry-After)
//
// with a one-line plain-text reason. The handler serves any path: mount it
// where the rua=https: URI points.
func (in *Ingester) Handler(opts HandlerOptions) http.Handler {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	return &handler{in: in, maxBody: opts.MaxBody}
}

type handler struct {
	in      *Ingester
	maxBody int64
}

// acceptedTypes are the media types a report may be POSTed with.
var acceptedTypes = map[string]bool{
	tlsrpt.MediaTypeGzip: true, tlsrpt.MediaTypeJSON: true, // RFC 8460 §5.4
	"application/json": true, "application/gzip": true, "application/x-gzip": true,
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, "POST a TLS report here (RFC 8460 §5.4)")
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !acceptedTypes[strings.ToLower(mt)] {
		reply(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type must be %s or %s (RFC 8460 §5.4)", tlsrpt.MediaTypeGzip, tlsrpt.MediaTypeJSON))
		return
	}
	// A report is gzipped by its media type, not by Content-Encoding, but
	// gzip there is read as well: Parse recognises gzip by its content.
	if enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc != "" && enc != "identity" && enc != "gzip" {
		reply(w, http.StatusUnsupportedMediaType, "unsupported Content-Encoding "+enc)
		return
	}
	if r.ContentLength > h.maxBody {
		reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("report larger than %d bytes", h.maxBody))
		return
	}
	data, err := readLimited(http.MaxBytesReader(w, r.Body, h.maxBody+1), h.maxBody)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.Is(err, tlsrpt.ErrReportTooLarge) || errors.As(err, &mbe) {
			reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("report larger than %d bytes", h.maxBody))
			return
		}
		reply(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	out, err := h.in.Ingest(r.Context(), Input{Data: data, Kind: KindReport, Source: reportstore.SourceHTTPS, Origin: remoteHost(r)})
	switch {
	case err != nil:
		w.Header().Set("Retry-After", "300")
		reply(w, http.StatusServiceUnavailable, "the report could not be stored; try again later")
	case out.Outcome == reportstore.Accepted:
		reply(w, http.StatusCreated, fmt.Sprintf("report stored as %d", out.ID))
	case out.Outcome == reportstore.Duplicate:
		reply(w, http.StatusOK, fmt.Sprintf("report already stored as %d", out.ID))
	case errors.Is(out.ParseErr, tlsrpt.ErrReportTooLarge):
		reply(w, http.StatusRequestEntityTooLarge, out.Reason)
	default:
		reply(w, http.StatusBadRequest, "not a TLS report: "+out.Reason)
	}
}

func reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, strings.ReplaceAll(msg, "\n", " "))
}

// remoteHost is the client's address, for the report's origin.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
