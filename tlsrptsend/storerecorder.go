package tlsrptsend

import (
	"context"
	"encoding/json"
	"fmt"
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

	mu      sync.Mutex     // makes Advance and the start of Flush one step each
	cursors map[string]any // by name, to store as JSON with the next flush

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

// Advance records the outcomes of one piece of a source's input (a log
// line) and moves the source's cursor past it, as one step: the next
// flush stores the outcomes with the cursor (marshalled as JSON) under
// name in one transaction, so that a source resuming from its stored
// cursor (reportstore.Store.OutcomeCursor) neither loses nor counts
// again what it read.
func (r *StoreRecorder) Advance(outcomes []Outcome, name string, cursor any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range outcomes {
		r.Record(o)
	}
	if r.cursors == nil {
		r.cursors = map[string]any{}
	}
	r.cursors[name] = cursor
}

// Flush adds what was recorded since the last flush to the store, with
// the cursors of Advance.
func (r *StoreRecorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	batch := append(r.unsaved, r.agg.Take()...)
	cursors := make([]reportstore.Cursor, 0, len(r.cursors))
	for name, c := range r.cursors {
		pos, err := json.Marshal(c)
		if err != nil {
			r.mu.Unlock()
			return fmt.Errorf("tlsrptsend: cursor %s: %w", name, err)
		}
		cursors = append(cursors, reportstore.Cursor{Name: name, Position: string(pos)})
	}
	r.mu.Unlock()
	r.unsaved = nil
	if len(batch) == 0 && len(cursors) == 0 {
		return nil
	}
	if err := r.Store.AddOutcomeBatch(ctx, batch, cursors); err != nil {
		r.unsaved = batch // the cursors stay, and are stored with them
		return err
	}
	return nil
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
