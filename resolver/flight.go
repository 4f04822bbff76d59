package resolver

import (
	"context"
)

// outcome is the result of network work for a domain: the decision and,
// for a proactive refresh, how it went.
type outcome struct {
	d          Decision
	refreshed  bool     // a refresh fetched the policy anew
	refreshErr error    // a refresh failed
	canceled   bool     // the caller's context ended first
	mx         *MXHosts // the MX hosts looked up, for Resolver.MX
}

// flight runs work for domain unless a call for the domain is already
// running, in which case it waits for that call's outcome: one lookup and
// one fetch per domain at a time. The work runs with its own context,
// bounded by Timeout, so that a caller giving up does not cancel it for
// the others.
//
// Work that starts takes one of MaxLookupsInFlight slots; callers that
// join a call already running take none. When no slot is free, the work
// does not run, and the outcome comes at once from overloaded: for
// Decide, the cached policy or Tempfail; for a proactive refresh, the
// policy stays due and is tried again on the next tick.
func (r *Resolver) flight(ctx context.Context, domain string, work func(context.Context, string) outcome) outcome {
	ch := r.group.DoChan(domain, func() (any, error) {
		if !r.startWork() {
			return outcome{d: Decision{Domain: domain, Kind: Tempfail, Source: SourceDNS, Reason: "the resolver is closed"}}, nil
		}
		defer r.work.Done()
		if !r.slots.take() {
			return r.overloaded(ctx, domain), nil
		}
		defer r.slots.give()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.Timeout)
		defer cancel()
		defer context.AfterFunc(r.base, cancel)()
		return work(ctx, domain), nil
	})
	select {
	case res := <-ch:
		return res.Val.(outcome)
	case <-ctx.Done():
		return outcome{canceled: true}
	}
}

// startWork counts network work about to start, unless the Resolver is
// closed.
func (r *Resolver) startWork() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.work.Add(1)
	return true
}

// Close ends the Resolver's network work and waits for it: lookups and
// fetches under way are canceled (their callers get Tempfail, or the
// cached policy), and later decisions that need the network are Tempfail.
// Decisions from the cache are still answered. Call it before closing the
// cache. It always returns nil.
func (r *Resolver) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.stop()
	r.work.Wait()
	return nil
}
