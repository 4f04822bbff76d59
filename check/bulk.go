package check

import (
	"context"
	"iter"
	"sync"
	"time"
)

// DefaultConcurrency is the number of domains CheckAll checks at once when
// BulkOptions.Concurrency is zero. Checks wait on the network, not the
// CPU; Options.PerIPConnections keeps any one server from being hammered.
const DefaultConcurrency = 32

// Defaults of BulkOptions fields left zero.
const (
	// DefaultRetries is how many times a domain whose check met a
	// resolver timeout is checked again.
	DefaultRetries = 2
	// DefaultRetryBackoff is the wait before the first of them, doubled
	// before each later one.
	DefaultRetryBackoff = 2 * time.Second
)

// BulkOptions configure Checker.CheckAll.
type BulkOptions struct {
	// Concurrency is how many domains are checked at once at most; zero
	// means DefaultConcurrency. CheckAll lowers it while the DNS resolver
	// times out, and raises it back as it answers (see limiter).
	Concurrency int
	// Ordered hands results over in input order instead of as they
	// finish.
	Ordered bool
	// Retries is how many times a domain whose check met a resolver
	// timeout (Result.ResolverTimedOut) is checked again, after
	// RetryBackoff, doubled each time; zero means DefaultRetries and a
	// negative value none. A timeout left after them stays in the result
	// as the finding "resolver-timeout", never as the domain's failure.
	Retries      int
	RetryBackoff time.Duration
	// OnConcurrency, if set, is called with the new number of domains
	// checked at once whenever CheckAll changes it, for a program to say
	// so. It must not block.
	OnConcurrency func(n int)
}

// Item is the outcome of checking one domain of a list.
type Item struct {
	// Index is the position of the domain in the input, from 0.
	Index int
	// Domain is the domain as given.
	Domain string
	// Result is the result, or nil if Err is set.
	Result *Result
	// Err says why the domain could not be checked (not a domain name).
	Err error
}

// orderedWindow bounds how many results may wait, with Ordered, behind a
// domain that is slow to check, as a multiple of Concurrency.
const orderedWindow = 4

// CheckAll checks every domain of domains, Concurrency at a time, and
// calls emit with each outcome: in input order with Ordered, else as they
// finish. emit is never called concurrently; if it returns an error,
// CheckAll stops and returns it. Memory stays flat whatever the number of
// domains: domains are read only as slots free up, and with Ordered at
// most orderedWindow×Concurrency results wait for a slow one.
func (c *Checker) CheckAll(ctx context.Context, domains iter.Seq[string], o BulkOptions, emit func(Item) error) error {
	workers := o.Concurrency
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = DefaultRetryBackoff
	}
	lim := newLimiter(workers, o.OnConcurrency)
	window := workers
	if o.Ordered {
		window *= orderedWindow
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	slots := make(chan struct{}, window) // one per item between reading and emitting
	jobs := make(chan Item)
	results := make(chan Item)
	go func() {
		defer close(jobs)
		i := 0
		for d := range domains {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- Item{Index: i, Domain: d}:
			case <-ctx.Done():
				return
			}
			i++
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for it := range jobs {
				it.Result, it.Err = c.checkRetrying(ctx, it.Domain, lim, o)
				select {
				case results <- it:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	pending := map[int]Item{}
	next := 0
	var emitErr error
	deliver := func(it Item) {
		if emitErr == nil {
			if emitErr = emit(it); emitErr != nil {
				cancel()
			}
		}
		<-slots
	}
	for it := range results {
		if !o.Ordered {
			deliver(it)
			continue
		}
		pending[it.Index] = it
		for {
			it, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			deliver(it)
		}
	}
	if emitErr != nil {
		return emitErr
	}
	return ctx.Err()
}

// checkRetrying checks domain when lim lets it, and again, up to
// o.Retries times with backoff, while the check meets resolver timeouts,
// which are ours rather than the domain's.
func (c *Checker) checkRetrying(ctx context.Context, domain string, lim *limiter, o BulkOptions) (*Result, error) {
	wait := o.RetryBackoff
	for retry := 0; ; retry++ {
		if err := lim.acquire(ctx); err != nil {
			return nil, err
		}
		res, err := c.Check(ctx, domain)
		timedOut := err == nil && res.ResolverTimedOut()
		lim.release(timedOut)
		if !timedOut || retry >= o.Retries {
			return res, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		wait *= 2
	}
}
