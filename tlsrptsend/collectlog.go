package tlsrptsend

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
)

// FetchedPolicies is a PolicyLookup for a collector without a daemon to
// ask: each domain's MTA-STS policy is fetched on first use (RFC 8461 §3)
// and kept for the collector's life. A domain with a valid policy whose
// mode is not none is reported under it (type sts), any other under
// no-policy-found.
type FetchedPolicies struct {
	ctx  context.Context
	dns  sts.Resolver
	opts sts.FetchOptions

	mu    sync.Mutex
	known map[string]tlsrpt.Policy
}

// NewFetchedPolicies returns a FetchedPolicies that fetches with dns and
// opts until ctx ends.
func NewFetchedPolicies(ctx context.Context, dns sts.Resolver, opts sts.FetchOptions) *FetchedPolicies {
	return &FetchedPolicies{ctx: ctx, dns: dns, opts: opts, known: map[string]tlsrpt.Policy{}}
}

// PolicyAt returns the policy of domain, whatever the time.
func (p *FetchedPolicies) PolicyAt(domain string, _ time.Time) (tlsrpt.Policy, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pol, ok := p.known[domain]; ok {
		return pol, true
	}
	pol := tlsrpt.Policy{Type: tlsrpt.PolicyNoPolicyFound, Domain: domain}
	if _, fetched, err := sts.Get(p.ctx, p.dns, domain, p.opts); err == nil && fetched.Policy.Mode != sts.ModeNone {
		pol = STSPolicy(domain, fetched.Policy)
	}
	p.known[domain] = pol
	return pol, true
}

// CollectOptions say what CollectPostfixLog reads and where outcomes go.
type CollectOptions struct {
	// Reader is read to its end; or, when nil, Path is: to its end, or,
	// with Follow, across rotation until ctx ends, its position kept in
	// the store so that a later run goes on where this one stopped.
	Reader io.Reader
	Path   string
	Follow bool
	// Store receives the outcomes, summed, every Flush (0: a minute) and
	// at the end.
	Store *reportstore.Store
	Flush time.Duration
	// Policies, SendingIP and Now are those of NewPostfixParser.
	Policies  PolicyLookup
	SendingIP netip.Addr
	Now       func() time.Time
}

// CollectPostfixLog reads a Postfix log as o says and stores the outcomes
// of its sessions. Ending ctx stops it after what was read is stored.
func CollectPostfixLog(ctx context.Context, o CollectOptions) (PostfixStats, error) {
	if o.Flush <= 0 {
		o.Flush = time.Minute
	}
	parser := NewPostfixParser(o.Policies, o.SendingIP, time.Local, o.Now)
	rec := NewStoreRecorder(o.Store)
	var run func(context.Context) error
	switch {
	case o.Reader != nil:
		run = func(ctx context.Context) error { return (&PostfixLog{Parser: parser, Reader: o.Reader}).Run(ctx, rec) }
	case o.Follow:
		run = (&LogCollector{Parser: parser, Path: o.Path, Recorder: rec}).Run
	default:
		run = func(ctx context.Context) error {
			f, err := os.Open(o.Path)
			if err != nil {
				return fmt.Errorf("tlsrptsend: %w", err)
			}
			defer f.Close()
			return (&PostfixLog{Parser: parser, Reader: f}).Run(ctx, rec)
		}
	}
	rec.Start(o.Flush)
	runErr := run(ctx)
	if err := rec.Close(context.WithoutCancel(ctx)); err != nil {
		return parser.Stats(), err
	}
	if ctx.Err() != nil {
		runErr = nil // stopped: what was read is stored
	}
	return parser.Stats(), runErr
}

// WriteText writes the counts of a collect run in one line.
func (s PostfixStats) WriteText(w io.Writer) error {
	t := &textout.Writer{W: w}
	t.Printf("%d lines read, %d sessions recorded, %d lines malformed, %d sessions without delivery status\n",
		s.Lines, s.Sessions, s.Malformed, s.Orphaned)
	return t.Err
}
