package check

import (
	"context"
	"iter"
	"sync"
)

// DefaultConcurrency is the number of domains CheckAll checks at once when
// BulkOptions.Concurrency is zero. Checks wait on the network, not the
// CPU; Options.PerIPConnections keeps any one server from being hammered.
const DefaultConcurrency = 32

// BulkOptions configure Checker.CheckAll.
type BulkOptions struct {
	// Concurrency is how many domains are checked at once; zero means
	// DefaultConcurrency.
	Concurrency int
	// Ordered hands results over in input order instead of as they
	// finish.
	Ordered bool
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
				it.Result, it.Err = c.Check(ctx, it.Domain)
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
