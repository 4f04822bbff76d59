package policyhost

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// observe wraps next with the request metrics and, if logger is not nil,
// the access log: one structured record per request. With a bodyTimeout,
// a request with a body must have sent it within that time (the server
// itself has no ReadTimeout: most requests have no body, and the
// deadline would cost each of them two updates).
func observe(next http.Handler, h *Handler, m *metrics, logger *slog.Logger, bodyTimeout time.Duration) http.Handler {
	var access slog.Handler
	if logger != nil {
		access = logger.Handler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var start time.Time
		if access != nil {
			start = time.Now()
		}
		if bodyTimeout > 0 && r.ContentLength != 0 { // -1: chunked, length unknown
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyTimeout))
		}
		rec := recorders.Get().(*statusRecorder)
		*rec = statusRecorder{ResponseWriter: w}
		defer recorders.Put(rec)
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		domain := h.domainOf(requestHost(r.Host))
		m.countRequest(domain, rec.status)
		if access != nil && access.Enabled(r.Context(), slog.LevelInfo) {
			logRequest(r.Context(), access, r, rec, start)
		}
	})
}

// logRequest writes the access log record of r. It gives the record to
// the handler itself: Logger.LogAttrs would also look up its caller, which
// nobody reads here, for every request.
func logRequest(ctx context.Context, access slog.Handler, r *http.Request, rec *statusRecorder, start time.Time) {
	now := time.Now()
	record := slog.NewRecord(now, slog.LevelInfo, "request", 0)
	record.AddAttrs(
		slog.String("remote", r.RemoteAddr),
		slog.String("host", r.Host),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("proto", r.Proto),
	)
	record.AddAttrs(
		slog.Int("status", rec.status),
		slog.Int64("bytes", rec.bytes),
		slog.Duration("duration", now.Sub(start)),
		slog.String("user_agent", r.UserAgent()),
	)
	if r.TLS != nil {
		record.AddAttrs(slog.String("tls", tls.VersionName(r.TLS.Version)), slog.String("sni", r.TLS.ServerName))
	}
	_ = access.Handle(ctx, record)
}

// recorders recycles statusRecorders: one per request adds up.
var recorders = sync.Pool{New: func() any { return new(statusRecorder) }}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
