package resolver

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/mtasts/mtasts/sts"
)

// DefaultMaxLookupsInFlight is the default of Config.MaxLookupsInFlight.
// A lookup waits mostly on the network, so that a few hundred at once
// keep a resolver busy without holding much memory; an MTA asking for more
// new domains at once than that is rare, and a client flooding the daemon
// with new domains gets Tempfail instead of a goroutine, a socket and a
// fetch each.
const DefaultMaxLookupsInFlight = 256

// LoadStats says how much network work a Resolver has in flight, for
// metrics.
type LoadStats struct {
	// InFlight is the number of lookups running now.
	InFlight int
	// Limit is MaxLookupsInFlight with its default applied; 0 means no
	// limit.
	Limit int
	// Refused counts the network work not done because Limit lookups
	// were running: decisions made without it (with DANE detection on,
	// one decision may count twice). It only grows.
	Refused uint64
}

// Load returns the network work in flight and the count of refusals, for
// metrics; decisions refused are also told to Observer.Decided, with
// Source SourceOverload or SourceStale. It is not logged here: Postfix
// logs the reason of each deferral, and a flood of log lines would not
// help.
func (r *Resolver) Load() LoadStats {
	s := r.slots
	return LoadStats{InFlight: len(s.sem), Limit: cap(s.sem), Refused: s.refused.Load()}
}

// lookupSlots bounds the network work in flight: a token in sem for each
// lookup running. A nil sem means no limit.
type lookupSlots struct {
	sem chan struct{}

	refused atomic.Uint64
}

// newLookupSlots returns slots for n lookups (see
// Config.MaxLookupsInFlight).
func newLookupSlots(n int) *lookupSlots {
	switch {
	case n == 0:
		n = DefaultMaxLookupsInFlight
	case n < 0:
		return &lookupSlots{}
	}
	return &lookupSlots{sem: make(chan struct{}, n)}
}

// take reserves a slot without waiting, and reports whether there was one.
func (s *lookupSlots) take() bool {
	if s.sem == nil {
		return true
	}
	select {
	case s.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

// give returns a slot taken.
func (s *lookupSlots) give() {
	if s.sem != nil {
		<-s.sem
	}
}

// overloaded is the outcome of the network work for key refused for
// overload: the unexpired cached policy of the domain key if there is one
// (RFC 8461 §5.1 applies it when a lookup fails), else Tempfail. Keys
// that are not domains (DANE detection's) get Tempfail, which leaves the
// decision to MTA-STS, as a failed MX lookup does (see checkDANE).
func (r *Resolver) overloaded(ctx context.Context, key string) outcome {
	r.slots.refused.Add(1)
	reason := fmt.Sprintf("the resolver is overloaded: %d policy lookups are in flight, the most allowed", cap(r.slots.sem))
	if sts.IsNormalDomain(key) {
		if e, err := r.view(ctx, key); err == nil && !e.Expired(r.cfg.Now()) {
			return outcome{d: policyDecision(e, SourceStale,
				reason+"; without re-checking its id, the unexpired cached policy applies (RFC 8461 §5.1)")}
		}
	}
	return outcome{d: Decision{Domain: key, Kind: Tempfail, Source: SourceOverload,
		Reason: reason + "; with no policy cached, the mail waits (try again later)"}}
}
