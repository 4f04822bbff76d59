package enforce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
	"github.com/mtasts/mtasts/sts"
)

// CacheEntry is a cached policy as "mtasts cache" shows it: the entry,
// when its domain was last looked up, and what the service answers
// Postfix from it.
type CacheEntry struct {
	*cache.Entry
	// LastUsed is when any process sharing the cache last recorded a
	// lookup of the domain; zero if unknown.
	LastUsed time.Time
	// Reply is the service's answer from the cache, overrides applied.
	Reply socketmap.Reply
}

// cacheEntryJSON is the JSON view of a CacheEntry; the policy text only
// with the full view (show, export).
type cacheEntryJSON struct {
	Domain    string    `json:"domain"`
	Mode      sts.Mode  `json:"mode"`
	ID        string    `json:"id"`
	MX        []string  `json:"mx"`
	MaxAge    int64     `json:"max_age"`
	Fetched   time.Time `json:"fetched"`
	Expires   time.Time `json:"expires"`
	Checked   time.Time `json:"checked"`
	RefreshAt time.Time `json:"refresh_at,omitzero"`
	LastUsed  time.Time `json:"last_used,omitzero"`
	Postfix   string    `json:"postfix"`
	Policy    string    `json:"policy,omitempty"`
}

func (e CacheEntry) json(full bool) cacheEntryJSON {
	j := cacheEntryJSON{Domain: e.Domain, Mode: e.Policy.Mode, ID: e.ID, MX: e.Policy.MX, MaxAge: e.Policy.MaxAge,
		Fetched: e.Fetched, Expires: e.Expires, Checked: e.Checked, RefreshAt: e.RefreshAt, LastUsed: e.LastUsed,
		Postfix: strings.TrimRight(e.Reply.String(), " ")}
	if j.MX == nil {
		j.MX = []string{}
	}
	if full {
		j.Policy = e.Text
	}
	return j
}

// Entries returns the unexpired cached policies, by domain.
func (op *Operator) Entries(ctx context.Context) ([]CacheEntry, error) {
	l, ok := op.cache.(cache.Lister)
	if !ok {
		return nil, fmt.Errorf("cache %T cannot list its entries", op.cache)
	}
	list, err := l.List(ctx)
	if err != nil {
		return nil, err
	}
	return op.describe(ctx, list)
}

// describe adds to entries their last use and the answers.
func (op *Operator) describe(ctx context.Context, entries []*cache.Entry) ([]CacheEntry, error) {
	var used map[string]time.Time
	if u, ok := op.cache.(cache.UsageStore); ok {
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Domain
		}
		var err error
		if used, err = u.LastUsed(ctx, names); err != nil {
			return nil, err
		}
	}
	h, err := op.handler()
	if err != nil {
		return nil, err
	}
	out := make([]CacheEntry, len(entries))
	for i, e := range entries {
		out[i] = CacheEntry{Entry: e, LastUsed: used[e.Domain], Reply: h.Resolve(ctx, e.Domain).Reply}
	}
	return out, nil
}

// handler answers lookups from the cached policies alone, as the service
// would with the cache's contents (zones, reply options and overrides
// applied), without fetching and without recording uses. For Postfix
// before 3.10.5 the answer names the MX hosts a policy covers, which are
// looked up now (with the configured resolver), as the service does.
func (op *Operator) handler() (*Handler, error) {
	dnsClient, err := dnsx.NewFromAddr(op.cfg.Resolver)
	if err != nil {
		return nil, fmt.Errorf("DNS resolver: %w", err)
	}
	r, err := resolver.New(resolver.Config{
		DNS: offlineDNS{}, MX: resolver.NewMXLookup(dnsClient), Cache: op.cache, Now: op.now, Logger: slog.New(slog.DiscardHandler),
		RecheckInterval: 1 << 62, RefreshUsedWithin: -1, DropUnusedAfter: -1,
	})
	if err != nil {
		return nil, err
	}
	return &Handler{Resolver: r, Options: op.cfg.replyOptions}, nil
}

// offlineDNS fails every lookup, for the answers from the cache alone.
type offlineDNS struct{}

func (offlineDNS) LookupTXT(context.Context, string) ([]string, error) {
	return nil, errors.New("answers from the cache only: no DNS")
}

// CacheState is everything the cache holds about one domain.
type CacheState struct {
	Domain   string
	Entry    *CacheEntry     // nil: no policy cached
	Negative *cache.Negative // nil: none
	Override *cache.Override // nil: none in force
}

// Show returns what the cache holds about domain.
func (op *Operator) Show(ctx context.Context, domain string) (CacheState, error) {
	d, err := sts.NormalizeDomain(domain)
	if err != nil {
		return CacheState{}, err
	}
	st := CacheState{Domain: d}
	switch e, err := op.cache.Get(ctx, d); {
	case err == nil:
		described, err := op.describe(ctx, []*cache.Entry{e})
		if err != nil {
			return st, err
		}
		st.Entry = &described[0]
	case !errors.Is(err, cache.ErrNotFound):
		return st, err
	}
	switch n, err := op.cache.GetNegative(ctx, d); {
	case err == nil:
		st.Negative = n
	case !errors.Is(err, cache.ErrNotFound):
		return st, err
	}
	list, err := op.Overrides(ctx)
	if err != nil {
		return st, err
	}
	for _, o := range list {
		if o.Domain == d {
			st.Override = o
		}
	}
	return st, nil
}

// Purge removes the cached policy and negative entry of domain, or of
// every domain when domain is "", and returns how many policies it
// removed. Overrides stay. Daemons sharing the cache keep the copies in
// their memory until they restart (see cache.Layered).
func (op *Operator) Purge(ctx context.Context, domain string) (int, error) {
	if domain == "" {
		l, ok := op.cache.(cache.Lister)
		if !ok {
			return 0, fmt.Errorf("cache %T cannot purge", op.cache)
		}
		return l.Purge(ctx)
	}
	d, err := sts.NormalizeDomain(domain)
	if err != nil {
		return 0, err
	}
	n := 1
	if _, err := op.cache.Get(ctx, d); errors.Is(err, cache.ErrNotFound) {
		n = 0
	}
	if err := op.cache.Delete(ctx, d); err != nil {
		return 0, err
	}
	if err := op.cache.DeleteNegative(ctx, d); err != nil {
		return n, err
	}
	if u, ok := op.cache.(cache.UsageStore); ok {
		if err := u.ForgetUsed(ctx, d); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Export formats.
const (
	ExportJSON    = "json"
	ExportPostfix = "postfix"
)

// Export writes the cached policies: ExportJSON, a list of the entries
// with their policy text; ExportPostfix, the lines "domain<TAB>policy"
// of a Postfix lookup table (postmap(1)) for smtp_tls_policy_maps with
// the answers the service gives now, for the domains whose answer is a
// policy (answers that are NOTFOUND or TEMP have no line).
func (op *Operator) Export(ctx context.Context, w io.Writer, format string) error {
	if format != ExportJSON && format != ExportPostfix {
		return fmt.Errorf("export format %q: want %s or %s", format, ExportJSON, ExportPostfix)
	}
	entries, err := op.Entries(ctx)
	if err != nil {
		return err
	}
	if format == ExportJSON {
		out := make([]cacheEntryJSON, len(entries))
		for i, e := range entries {
			out[i] = e.json(true)
		}
		return textout.WriteJSON(w, out)
	}
	tw := &textout.Writer{W: w}
	tw.Printf("# smtp_tls_policy_maps from the MTA-STS policy cache, %s; postmap(1) this file\n", op.now().UTC().Format(time.RFC3339))
	for _, e := range entries {
		if e.Reply.Status == socketmap.StatusOK {
			tw.Printf("%s\t%s\n", e.Domain, e.Reply.Data)
		}
	}
	return tw.Err
}

// PrintEntries writes the cached policies with WriteEntries.
func (op *Operator) PrintEntries(ctx context.Context, w io.Writer, asJSON bool) error {
	list, err := op.Entries(ctx)
	if err != nil {
		return err
	}
	return WriteEntries(w, list, asJSON)
}

// PrintState writes what the cache holds about domain with
// WriteCacheState.
func (op *Operator) PrintState(ctx context.Context, w io.Writer, domain string, asJSON bool) error {
	st, err := op.Show(ctx, domain)
	if err != nil {
		return err
	}
	return WriteCacheState(w, st, asJSON)
}

// WriteEntries writes cached policies as a table, or as a JSON list.
func WriteEntries(w io.Writer, entries []CacheEntry, asJSON bool) error {
	if asJSON {
		out := make([]cacheEntryJSON, len(entries))
		for i, e := range entries {
			out[i] = e.json(false)
		}
		return textout.WriteJSON(w, out)
	}
	tw := &textout.Writer{W: w}
	tw.Printf("%-30s %-8s %-20s %-20s %-20s %s\n", "DOMAIN", "MODE", "EXPIRES (UTC)", "REFRESH (UTC)", "LAST USED (UTC)", "POSTFIX")
	for _, e := range entries {
		tw.Textf("%-30s %-8s %-20s %-20s %-20s %s\n", e.Domain, e.Policy.Mode, stamp(e.Expires), stamp(e.RefreshAt), stamp(e.LastUsed),
			strings.TrimRight(e.Reply.String(), " "))
	}
	tw.Printf("%s\n", textout.Plural(len(entries), "domain"))
	return tw.Err
}

// stamp writes t in UTC, or "-" for zero.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// WriteCacheState writes st for people, or as JSON: {"domain", "policy"
// (an entry with its text, or null), "negative", "override"}.
func WriteCacheState(w io.Writer, st CacheState, asJSON bool) error {
	if asJSON {
		j := struct {
			Domain   string                 `json:"domain"`
			Policy   *cacheEntryJSON        `json:"policy"`
			Negative *negativeJSON          `json:"negative,omitempty"`
			Override *resolver.OverrideJSON `json:"override,omitempty"`
		}{Domain: st.Domain}
		if st.Entry != nil {
			e := st.Entry.json(true)
			j.Policy = &e
		}
		if n := st.Negative; n != nil {
			j.Negative = &negativeJSON{n.Kind, n.ID, n.Reason, n.Created, n.Expires}
		}
		if st.Override != nil {
			j.Override = resolver.NewOverrideJSON(st.Override)
		}
		return textout.WriteJSON(w, j)
	}
	tw := &textout.Writer{W: w}
	tw.Printf("%s\n", st.Domain)
	if e := st.Entry; e != nil {
		tw.Textf("%-9s mode %s, max_age %d, id %s\n", "policy", e.Policy.Mode, e.Policy.MaxAge, e.ID)
		tw.Printf("%-9s fetched %s, expires %s, id checked %s\n", "", stamp(e.Fetched), stamp(e.Expires), stamp(e.Checked))
		tw.Printf("%-9s refresh %s, last used %s\n", "", stamp(e.RefreshAt), stamp(e.LastUsed))
		tw.Textf("%-9s %s\n", "mx", textout.OrDash(strings.Join(e.Policy.MX, ", ")))
		tw.Textf("%-9s %s\n", "postfix", e.Reply.String())
	} else {
		tw.Printf("%-9s none cached\n", "policy")
	}
	if n := st.Negative; n != nil {
		tw.Textf("%-9s %s until %s: %s\n", "negative", n.Kind, stamp(n.Expires), n.Reason)
	}
	if o := st.Override; o != nil {
		tw.Textf("%-9s %s\n", "override", OverrideLine(o))
	}
	return tw.Err
}

// negativeJSON is the JSON view of a cache.Negative.
type negativeJSON struct {
	Kind    cache.NegativeKind `json:"kind"`
	ID      string             `json:"id,omitempty"`
	Reason  string             `json:"reason"`
	Created time.Time          `json:"created"`
	Expires time.Time          `json:"expires"`
}
