package ingest

import (
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// DefaultMaxBody is the default cap on the body of a POSTed report, as
// sent (compressed or not): 5 MiB.
const DefaultMaxBody = 5 << 20

// HandlerOptions tune Handler. The zero value is ready to use; each zero
// field means its default.
type HandlerOptions struct {
	// MaxBody caps the request body in bytes; 0 means DefaultMaxBody.
	// The decompressed report is capped by Config.MaxSize.
	MaxBody int64
	// Memory bounds the bytes that all requests may hold at once for
	// their bodies and for parsing them (decompressed); 0 means
	// DefaultMemory. A request that finds it spent is answered 503 with
	// Retry-After at once.
	Memory int64
	// MaxPerClient bounds the requests of one client in progress at
	// once; more are answered 429. 0 means DefaultMaxPerClient.
	MaxPerClient int
	// RejectBurst and RejectInterval bound the bodies of one client that
	// are not stored as reports (quarantined, too large, too slow): a
	// burst of RejectBurst, then one every RejectInterval. Beyond that the
	// client is answered 429 with Retry-After before its body is read. 0
	// means DefaultRejectBurst and DefaultRejectInterval.
	RejectBurst    int
	RejectInterval time.Duration
	// BodyTimeout and MinBodyRate bound the time a body may take to
	// arrive: BodyTimeout plus its size at MinBodyRate bytes a second.
	// 0 means 10 seconds and DefaultMinBodyRate.
	BodyTimeout time.Duration
	MinBodyRate int64
	// TrustedProxies are the reverse proxies whose X-Forwarded-For header
	// says who the client is; requests from other addresses are their
	// own client.
	TrustedProxies []netip.Prefix
}

func (o *HandlerOptions) setDefaults() {
	orDefault(&o.MaxBody, DefaultMaxBody)
	orDefault(&o.Memory, DefaultMemory)
	orDefault(&o.MinBodyRate, DefaultMinBodyRate)
	orDefault(&o.MaxPerClient, DefaultMaxPerClient)
	orDefault(&o.RejectBurst, DefaultRejectBurst)
	orDefault(&o.RejectInterval, DefaultRejectInterval)
	orDefault(&o.BodyTimeout, 10*time.Second)
}

// orDefault sets *v to d unless it is more than 0.
func orDefault[T int | int64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
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
//	408              the body did not arrive in time; send it again
//	429              too many requests, or too many bodies that were not
//	                 reports, from this client (Retry-After)
//	503              the server is busy with other reports, or the store
//	                 failed; the sender should retry (Retry-After)
//
// with a one-line plain-text reason, which never names an address of the
// server. The handler serves any path: mount it where the rua=https: URI
// points. Its memory, its clients and their rejected bodies are bounded
// as HandlerOptions say.
func (in *Ingester) Handler(opts HandlerOptions) http.Handler {
	opts.setDefaults()
	h := &handler{
		in: in, opts: opts, maxBody: opts.MaxBody,
		budget:  newMemoryBudget(opts.Memory),
		clients: newClientLimiter(opts.MaxPerClient, opts.RejectBurst, opts.RejectInterval, in.cfg.Now),
		logs:    &logThrottle{interval: time.Minute},
	}
	in.cfg.Metrics.watchBudget(h.budget)
	return h
}

type handler struct {
	in      *Ingester
	opts    HandlerOptions
	maxBody int64
	budget  *memoryBudget
	clients *clientLimiter
	logs    *logThrottle
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
	c := clientOf(r, h.opts.TrustedProxies)
	done, err := h.clients.admit(c.key())
	if err != nil {
		var le *limitError
		errors.As(err, &le)
		h.refuse(w, http.StatusTooManyRequests, le.reason, le.msg, le.retryAfter, c)
		return
	}
	rejected := true
	defer func() { done(rejected) }()
	res := &reservation{b: h.budget}
	defer res.release()
	code, msg, err := h.receive(w, r, res, c)
	switch {
	case errors.Is(err, errBusy):
		rejected = false
		h.refuse(w, code, "memory", msg, busyRetryAfter, c)
		return
	case code == http.StatusServiceUnavailable:
		rejected = false
		w.Header().Set("Retry-After", "300")
	case code == http.StatusOK || code == http.StatusCreated:
		rejected = false
	}
	reply(w, code, msg)
}

// busyRetryAfter is when a request refused for want of memory may come
// back.
const busyRetryAfter = time.Minute

// receive reads, parses and stores the report POSTed in r, and says how to
// answer: a status, a message and, for a refusal, its cause.
func (h *handler) receive(w http.ResponseWriter, r *http.Request, res *reservation, c client) (int, string, error) {
	const busy = "the server is busy with other reports; try again later"
	tooLarge := fmt.Sprintf("report larger than %d bytes", h.maxBody)
	data, err := h.readBody(w, r, res)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, errBusy):
			return http.StatusServiceUnavailable, busy, err
		case errors.Is(err, tlsrpt.ErrReportTooLarge) || errors.As(err, &mbe):
			return http.StatusRequestEntityTooLarge, tooLarge, err
		case errors.Is(err, errBodyTimeout):
			return http.StatusRequestTimeout, "the report did not arrive in time; send it again", err
		}
		// The error would name the server's address: say less.
		return http.StatusBadRequest, "the request body could not be read", err
	}
	out, err := h.in.Ingest(r.Context(), Input{Data: data, Kind: KindReport, Source: reportstore.SourceHTTPS, Origin: c.String(), res: res})
	switch {
	case errors.Is(err, errBusy):
		return http.StatusServiceUnavailable, busy, err
	case err != nil:
		return http.StatusServiceUnavailable, "the report could not be stored; try again later", err
	case out.Outcome == reportstore.Accepted:
		return http.StatusCreated, fmt.Sprintf("report stored as %d", out.ID), nil
	case out.Outcome == reportstore.Duplicate:
		return http.StatusOK, fmt.Sprintf("report already stored as %d", out.ID), nil
	case errors.Is(out.ParseErr, tlsrpt.ErrReportTooLarge):
		return http.StatusRequestEntityTooLarge, out.Reason, nil
	}
	return http.StatusBadRequest, "not a TLS report: " + out.Reason, nil
}

// refuse answers a request refused by a limit, with Retry-After, and
// counts and logs the refusal: one log line a minute per reason, saying
// how many more there were.
func (h *handler) refuse(w http.ResponseWriter, code int, reason, msg string, retryAfter time.Duration, c client) {
	w.Header().Set("Retry-After", strconv.FormatInt(int64(max(1, math.Ceil(retryAfter.Seconds()))), 10))
	reply(w, code, msg)
	h.in.cfg.Metrics.refuse(reason)
	if ok, more := h.logs.allow(reason, h.in.cfg.Now()); ok {
		h.in.log.Warn("report POST refused by a limit", "limit", reason, "client", c.String(), "reason", msg,
			"retry_after", retryAfter.Round(time.Second), "refused_since_last_log", more)
	}
}

func reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, strings.ReplaceAll(msg, "\n", " "))
}
