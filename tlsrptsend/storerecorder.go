package tlsrptsend

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/mtasts/mtasts/reportstore"
)

// StoreRecorder is a Recorder that keeps outcomes in a report store,
// summed per UTC day, policy domain and policy (RFC 8460 §4.1, §4.4), so
// that several MTAs, or several collectors, feed one reporter. It sums
// outcomes in memory and adds the sums to the store on Flush, every
// Interval if started with Start, and on Close: a clean stop loses
// nothing. Sums the store refused are kept and added on the next flush.
type StoreRecorder struct {
	Store *reportstore.Store
	// Metrics, if set, counts the outcomes recorded.
	Metrics *Metrics

	agg     *Aggregator
	flushMu sync.Mutex
	unsaved []DayResults // sums a flush failed to store

	stop chan struct{}
	done chan struct{}
}

// NewStoreRecorder returns a StoreRecorder over store.
func NewStoreRecorder(store *reportstore.Store) *StoreRecorder {
	return &StoreRecorder{Store: store, agg: NewAggregator()}
}

// Record sums o in memory until the next flush.
func (r *StoreRecorder) Record(o Outcome) {
	r.Metrics.outcome(&o)
	r.agg.Record(o)
}

// Flush adds what was recorded since the last flush to the store.
func (r *StoreRecorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	batch := append(r.unsaved, r.agg.Take()...)
	r.unsaved = nil
	var errs []error
	for i, dr := range batch {
		if err := r.Store.AddOutcomes(ctx, dr.Day, dr.Domain, dr.Results); err != nil {
			errs = append(errs, err)
			r.unsaved = append(r.unsaved, batch[i])
		}
	}
	return errors.Join(errs...)
}

// Start flushes every interval in the background, until Close.
func (r *StoreRecorder) Start(interval time.Duration) {
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(r.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				_ = r.Flush(context.Background()) // kept for the next flush
			}
		}
	}()
}

// Close stops the background flushes and flushes what is left.
func (r *StoreRecorder) Close(ctx context.Context) error {
	if r.stop != nil {
		close(r.stop)
		<-r.done
		r.stop = nil
	}
	return r.Flush(ctx)
}
