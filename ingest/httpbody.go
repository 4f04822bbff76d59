package ingest

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// bodyChunk is the step by which the body buffer of unknown length, and
// its deadline, grow.
const bodyChunk = 64 << 10

// errBodyTimeout means that the body did not arrive in time.
var errBodyTimeout = errors.New("the request body did not arrive in time")

// readBody reads the body of r, at most h.maxBody bytes, holding its
// memory in res. It must arrive within the body timeout plus the time its
// size takes at the minimum rate: a report of 5 MiB over a slow link gets
// the time it needs, a client that stalls does not. The deadline is known
// at once when the request says its Content-Length, and grows with what
// arrives when it does not. A body over the limit fails with
// *http.MaxBytesError, one that is too slow with errBodyTimeout.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request, res *reservation) ([]byte, error) {
	rc := http.NewResponseController(w)
	start := time.Now()
	allow := func(n int64) {
		d := h.opts.BodyTimeout + time.Duration(float64(n)/float64(h.opts.MinBodyRate)*float64(time.Second))
		// Not every ResponseWriter has read deadlines (httptest's has
		// none); the server's own timeouts then apply.
		_ = rc.SetReadDeadline(start.Add(d))
	}
	body := http.MaxBytesReader(w, r.Body, h.maxBody)
	var buf []byte
	allowed := int64(bodyChunk)
	if size := r.ContentLength; size >= 0 {
		// Room for the EOF after the last byte: the buffer never grows.
		if err := res.acquire(size + 1); err != nil {
			return nil, err
		}
		buf = make([]byte, 0, size+1)
		allowed = max(size, allowed)
	}
	allow(allowed)
	for {
		if len(buf) == cap(buf) {
			n := min(max(2*int64(cap(buf)), bodyChunk), h.maxBody+1)
			if err := res.acquire(n); err != nil {
				return nil, err
			}
			buf = append(make([]byte, 0, n), buf...)
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if next := int64(len(buf)) + bodyChunk; r.ContentLength < 0 && next > allowed {
			allowed = next
			allow(allowed)
		}
		switch {
		case errors.Is(err, io.EOF):
			return buf, nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, errBodyTimeout
		case err != nil:
			return nil, err
		}
	}
}
