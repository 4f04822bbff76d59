package resolver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtasts/mtasts/internal/dnsx"
)

// Defaults of the MX host cache.
const (
	// DefaultMXSize bounds the number of domains whose MX hosts are
	// remembered.
	DefaultMXSize = 100_000
	// MaxMXTTL caps how long an MX answer is used, whatever its TTL, so
	// that a change of MX records is followed within it.
	MaxMXTTL = time.Hour
)

// MXLookup looks up the MX records of a domain.
type MXLookup interface {
	// MX returns the host names of domain's MX records in preference
	// order, lower case and with or without the trailing dot, and how
	// long the answer may be cached (its TTL). A domain without MX
	// records (NXDOMAIN, NODATA) is no hosts and no error; a null MX
	// (RFC 7505) is the host ".". Any error is a failure to know.
	MX(ctx context.Context, domain string) (hosts []string, ttl time.Duration, err error)
}

// NewMXLookup returns an MXLookup that asks c and takes the TTL from its
// answers (dnsx.Result.TTL).
func NewMXLookup(c *dnsx.Client) MXLookup { return dnsxMX{c} }

type dnsxMX struct{ c *dnsx.Client }

func (d dnsxMX) MX(ctx context.Context, domain string) ([]string, time.Duration, error) {
	mxs, res, err := d.c.MX(ctx, domain)
	if dnsx.IsNotFound(err) {
		return nil, res.TTL, nil
	}
	if err != nil {
		return nil, 0, err
	}
	hosts := make([]string, 0, len(mxs))
	for _, mx := range mxs {
		hosts = append(hosts, mx.Host)
	}
	return hosts, res.TTL, nil
}

// ErrMX means the MX hosts of a domain are not known: the lookup failed
// and no unexpired answer is remembered, or no MXLookup is configured.
var ErrMX = errors.New("MX hosts unknown")

// MXHosts are the MX hosts a domain publishes, as last looked up. They
// are shared between callers and must not be modified.
type MXHosts struct {
	// Domain is the domain, normalized.
	Domain string
	// Hosts are the MX host names in preference order: lower case,
	// without trailing dot or duplicates. A domain without MX records has
	// its own name (the implicit MX of RFC 5321 §5.1); a null MX (RFC
	// 7505) has none.
	Hosts []string
	// Expires is when the answer's TTL (at most MaxMXTTL) runs out; the
	// hosts are not used after it.
	Expires time.Time

	refreshAt  time.Time        // three quarters of the TTL: look up again in the background
	refreshing atomic.Bool      // a background lookup has started
	now        func() time.Time // the resolver's clock
}

// Current reports whether the hosts may still be used without asking
// Resolver.MX again: until three quarters of their TTL, by the clock of
// the resolver that looked them up. A caller that keeps MXHosts (with
// what it built from them) asks Resolver.MX again when they are not
// current, which gives them until they expire while it looks them up
// anew, or the new answer.
func (m *MXHosts) Current() bool {
	return m.now != nil && m.now().Before(m.refreshAt)
}

// MX returns the MX hosts of domain, normalized as Decide expects: the
// remembered answer while its TTL runs (at most MaxMXTTL), or a new
// lookup. An answer past three quarters of its TTL is looked up again in
// the background, so that busy domains are answered from memory without
// waiting. Lookups for one domain are shared, like Decide's, and count
// against MaxLookupsInFlight. A failed lookup is not remembered: the
// error wraps ErrMX, and the caller decides what an unknown MX set means
// (the enforce service defers the mail).
func (r *Resolver) MX(ctx context.Context, domain string) (*MXHosts, error) {
	if r.cfg.MX == nil {
		return nil, fmt.Errorf("%w: no MX lookup configured", ErrMX)
	}
	now := r.cfg.Now()
	if m, ok := r.mx.get(domain); ok && now.Before(m.Expires) {
		if !now.Before(m.refreshAt) && m.refreshing.CompareAndSwap(false, true) {
			go r.flight(context.Background(), "mx "+domain, r.lookupMX)
		}
		return m, nil
	}
	out := r.flight(ctx, "mx "+domain, r.lookupMX)
	switch {
	case out.canceled:
		return nil, fmt.Errorf("%w for %s: gave up waiting for the lookup: %w", ErrMX, domain, ctx.Err())
	case out.mx == nil:
		return nil, fmt.Errorf("%w for %s: %s", ErrMX, domain, out.d.Reason)
	}
	return out.mx, nil
}

// lookupMX looks up the MX hosts of the domain in key ("mx <domain>") and
// remembers them for their TTL.
func (r *Resolver) lookupMX(ctx context.Context, key string) outcome {
	domain := strings.TrimPrefix(key, "mx ")
	hosts, ttl, err := r.cfg.MX.MX(ctx, domain)
	if err != nil {
		r.cfg.Logger.WarnContext(ctx, "MX lookup failed", "domain", domain, "err", err)
		return outcome{d: Decision{Domain: domain, Kind: Tempfail, Source: SourceDNS, Reason: "MX lookup failed: " + err.Error()}}
	}
	ttl = min(max(ttl, 0), MaxMXTTL)
	now := r.cfg.Now()
	m := &MXHosts{Domain: domain, Hosts: mxHosts(domain, hosts), Expires: now.Add(ttl), refreshAt: now.Add(ttl * 3 / 4), now: r.cfg.Now}
	r.mx.put(domain, m)
	return outcome{mx: m}
}

// mxTable holds the MX hosts of up to DefaultMXSize domains; when it is
// full it is emptied and filled anew. It is read on every lookup for
// Postfix before 3.10.5, so reads take no lock and reorder nothing (which
// an LRU would).
type mxTable struct {
	m sync.Map // domain → *MXHosts
	n atomic.Int64
}

func (t *mxTable) get(domain string) (*MXHosts, bool) {
	v, ok := t.m.Load(domain)
	if !ok {
		return nil, false
	}
	return v.(*MXHosts), true
}

func (t *mxTable) put(domain string, m *MXHosts) {
	if _, loaded := t.m.Swap(domain, m); !loaded && t.n.Add(1) > DefaultMXSize {
		t.m.Clear()
		t.n.Store(1)
		t.m.Store(domain, m)
	}
}

// mxHosts cleans the hosts of domain's MX records: lower case, no
// trailing dot, no duplicates, no null MX; the domain itself when there
// are no records (RFC 5321 §5.1).
func mxHosts(domain string, hosts []string) []string {
	if len(hosts) == 0 {
		return []string{domain}
	}
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}
