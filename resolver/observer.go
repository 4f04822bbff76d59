package resolver

import (
	"time"

	"github.com/mtasts/mtasts/sts"
)

// Observer is told what the Resolver does, for metrics and alerts. Its
// methods are called from many goroutines and must be quick. Embed
// NopObserver to implement only some of them.
type Observer interface {
	// Decided is called for every Decide with its answer and how long it
	// took. Cache hits are decisions with Source SourceCache.
	Decided(d Decision, elapsed time.Duration)
	// Fetched is called after every policy fetch (RFC 8461 §3.3), with
	// its error (nil on success).
	Fetched(domain string, err error, elapsed time.Duration)
	// Refreshed is called after every proactive refresh (RFC 8461 §10.2),
	// with its error (nil on success).
	Refreshed(domain string, err error)
	// RefreshFailed is the alert hook of RFC 8461 §10.2: a proactive
	// refresh failed and the cached policy's mode is not none. It is
	// called after Refreshed.
	RefreshFailed(domain string, cached *sts.Policy, err error)
	// CacheError is called when the cache fails; op names the operation
	// ("get", "put", "due", …). The resolver keeps working without it.
	CacheError(op string, err error)
	// Unused is called for a cached policy due for a refresh whose domain
	// was not looked up recently: left alone (dropped false) or removed
	// from the cache (dropped true); see Config.RefreshUsedWithin.
	Unused(domain string, dropped bool)
}

// NopObserver is an Observer that does nothing.
type NopObserver struct{}

// Decided implements Observer.
func (NopObserver) Decided(Decision, time.Duration) {}

// Fetched implements Observer.
func (NopObserver) Fetched(string, error, time.Duration) {}

// Refreshed implements Observer.
func (NopObserver) Refreshed(string, error) {}

// RefreshFailed implements Observer.
func (NopObserver) RefreshFailed(string, *sts.Policy, error) {}

// CacheError implements Observer.
func (NopObserver) CacheError(string, error) {}

// Unused implements Observer.
func (NopObserver) Unused(string, bool) {}
