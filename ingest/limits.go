package ingest

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/mtasts/mtasts/internal/lru"
	"github.com/mtasts/mtasts/tlsrpt"
)

// Defaults of HandlerOptions.
const (
	// DefaultMemory is the default bound on the memory that all report
	// POSTs may hold at once: 96 MiB, enough for one report of
	// tlsrpt.DefaultMaxSize with its body.
	DefaultMemory = 96 << 20
	// DefaultMaxPerClient is the default bound on the POSTs one client
	// may have in progress at once.
	DefaultMaxPerClient = 8
	// DefaultRejectBurst and DefaultRejectInterval are the default rate of
	// rejected bodies per client: a burst of 10, then one a minute.
	DefaultRejectBurst    = 10
	DefaultRejectInterval = time.Minute
	// DefaultMinBodyRate is the default slowest transfer rate of a body:
	// 8 KiB/s, so that a 5 MiB report has 640 s on top of the read
	// timeout.
	DefaultMinBodyRate = 8 << 10
)

// parseFactor is what parsing costs in memory per byte of the report,
// decompressed: the buffer tlsrpt.Parse reads it into, which may hold
// twice the report while it grows, and the decoded report.
const parseFactor = 3

// errBusy means that the memory for a request is not available now: the
// request is refused with 503 and may be sent again later.
var errBusy = errors.New("the server is busy with other reports")

// errTooLarge means that a request alone needs more memory than all
// requests together may hold.
var errTooLarge = fmt.Errorf("%w: it needs more memory than all reports at once may hold", tlsrpt.ErrReportTooLarge)

// memoryBudget bounds the bytes that request bodies and their
// decompression hold at once: a weighted semaphore on bytes, which
// refuses rather than waits when it is full, so that a flood is answered
// quickly and holds nothing.
type memoryBudget struct {
	size int64
	sem  *semaphore.Weighted
	used atomic.Int64
	peak atomic.Int64
}

func newMemoryBudget(size int64) *memoryBudget {
	return &memoryBudget{size: size, sem: semaphore.NewWeighted(size)}
}

// reservation is the memory one request holds; release gives it back.
type reservation struct {
	b    *memoryBudget
	held int64
}

// acquire reserves n more bytes: errBusy when the budget does not have
// them now, errTooLarge when it never will.
func (r *reservation) acquire(n int64) error {
	if n <= 0 {
		return nil
	}
	if r.held+n > r.b.size {
		return errTooLarge
	}
	if !r.b.sem.TryAcquire(n) {
		return errBusy
	}
	r.held += n
	used := r.b.used.Add(n)
	for {
		peak := r.b.peak.Load()
		if used <= peak || r.b.peak.CompareAndSwap(peak, used) {
			return nil
		}
	}
}

func (r *reservation) release() {
	if r.held > 0 {
		r.b.used.Add(-r.held)
		r.b.sem.Release(r.held)
		r.held = 0
	}
}

// clientLimiter bounds what one client may do at once and over time:
// requests in progress, and rejected bodies (those not stored as
// reports), by a token bucket per client. A token is taken before the
// body is read and given back if the body turns out to be a report, so
// that a burst of concurrent requests cannot get more bodies rejected
// than the bucket holds.
type clientLimiter struct {
	maxInFlight int
	burst       float64
	interval    time.Duration
	now         func() time.Time

	mu       sync.Mutex
	inFlight map[string]int
	// buckets forgets the clients seen least recently; a forgotten
	// client starts again with a full bucket.
	buckets *lru.Cache[string, *bucket]
}

// bucket holds a client's tokens for rejected bodies.
type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

// maxClients bounds the clients whose buckets are remembered.
const maxClients = 100000

func newClientLimiter(maxInFlight, burst int, interval time.Duration, now func() time.Time) *clientLimiter {
	return &clientLimiter{maxInFlight: maxInFlight, burst: float64(burst), interval: interval, now: now,
		inFlight: map[string]int{}, buckets: lru.New[string, *bucket](maxClients)}
}

// limitError is why a client's request is refused before its body is
// read, with when to come back.
type limitError struct {
	reason     string // the label of the refused metric
	msg        string
	retryAfter time.Duration
}

func (e *limitError) Error() string { return e.msg }

// admit counts a request of client in progress and takes a token for a
// possible rejection; done ends the request, giving the token back unless
// the body was rejected.
func (cl *clientLimiter) admit(client string) (done func(rejected bool), err error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.inFlight[client] >= cl.maxInFlight {
		return nil, &limitError{reason: "client_busy", msg: fmt.Sprintf("more than %d reports at once from one client", cl.maxInFlight), retryAfter: 10 * time.Second}
	}
	b := cl.refill(client)
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) * float64(cl.interval))
		return nil, &limitError{reason: "reject_rate", msg: "too many bodies that were not reports from this client", retryAfter: wait}
	}
	b.tokens--
	cl.inFlight[client]++
	return func(rejected bool) {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		if n := cl.inFlight[client] - 1; n > 0 {
			cl.inFlight[client] = n
		} else {
			delete(cl.inFlight, client)
		}
		if !rejected {
			b := cl.refill(client)
			b.tokens = math.Min(b.tokens+1, cl.burst)
		}
	}, nil
}

// refill returns client's bucket with the tokens earned since it was last
// looked at. cl.mu must be held.
func (cl *clientLimiter) refill(client string) *bucket {
	now := cl.now()
	b, ok := cl.buckets.Get(client)
	if !ok {
		b = &bucket{tokens: cl.burst, at: now}
		cl.buckets.Put(client, b)
		return b
	}
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = math.Min(cl.burst, b.tokens+float64(elapsed)/float64(cl.interval))
		b.at = now
	}
	return b
}

// logThrottle lets a warning through at most once per interval per key,
// so that a flood of refusals makes a log line, not a flood of them.
type logThrottle struct {
	interval time.Duration
	mu       sync.Mutex
	last     map[string]time.Time
	dropped  map[string]int
}

// allow reports whether the warning of key may be logged at now, and how
// many were held back since the last one.
func (t *logThrottle) allow(key string, now time.Time) (bool, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last, t.dropped = map[string]time.Time{}, map[string]int{}
	}
	if last, ok := t.last[key]; ok && now.Sub(last) < t.interval {
		t.dropped[key]++
		return false, 0
	}
	n := t.dropped[key]
	t.last[key], t.dropped[key] = now, 0
	return true, n
}
