package enforce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/internal/procenv"
	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
)

// Operator is what "mtasts override" and "mtasts cache" do to the cache
// of a running service: it opens the cache the [daemon] section names
// (Config.Cache), the one every daemon sharing it reads. Open it with
// OpenOperator and Close it.
type Operator struct {
	cfg    *Config
	cache  cache.Cache
	now    func() time.Time
	getenv func(string) string
}

// OpenOperator opens the cache of cfg with the clock of o.
func OpenOperator(ctx context.Context, cfg *Config, o Options) (*Operator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	// The default cache's directory is made as the daemon makes it, so
	// that an override can be put in place before the daemon first runs.
	if err := cfg.prepareStateDir(newLogger(o.Log, cfg.LogFormat, new(slog.LevelVar))); err != nil {
		return nil, err
	}
	url := cfg.Cache
	if url == "" {
		url = "memory:"
	}
	c, err := cache.Open(ctx, url, cache.Options{Now: o.Now})
	if err != nil {
		return nil, err
	}
	return &Operator{cfg: cfg, cache: c, now: o.Now, getenv: o.Getenv}, nil
}

// Close closes the cache.
func (op *Operator) Close() error { return op.cache.Close() }

// ErrNothingToEnforce is the error of AddOverride for mode enforce when
// the cache holds no policy in mode testing or enforce for the domain.
var ErrNothingToEnforce = errors.New("no cached policy in mode testing or enforce")

// AddOverride puts an override of domain in force for the duration d,
// replacing any other, and returns it. An empty actor means Actor's. Mode enforce needs a cached policy
// in mode testing (or enforce) to take the mx patterns from: without one
// the error wraps ErrNothingToEnforce (see resolver.SourceOverride).
func (op *Operator) AddOverride(ctx context.Context, domain string, mode sts.Mode, d time.Duration, reason, actor string) (*cache.Override, error) {
	store, err := op.overrides()
	if err != nil {
		return nil, err
	}
	if d <= 0 {
		return nil, fmt.Errorf("override duration %v: must be positive", d)
	}
	if reason == "" {
		return nil, errors.New("an override needs a reason")
	}
	if actor == "" {
		actor = procenv.Actor(op.getenv)
	}
	now := op.now()
	o, err := cache.ValidateOverride(&cache.Override{Domain: domain, Mode: mode, Reason: reason, Actor: actor,
		Created: now, Expires: now.Add(d)})
	if err != nil {
		return nil, err
	}
	if mode == sts.ModeEnforce {
		e, err := op.cache.Get(ctx, o.Domain)
		switch {
		case errors.Is(err, cache.ErrNotFound) || err == nil && e.Policy.Mode == sts.ModeNone:
			return nil, fmt.Errorf("%s: %w: an enforce override has no mx patterns to enforce; look the domain up first (mtasts query --cache URL)", o.Domain, ErrNothingToEnforce)
		case err != nil:
			return nil, err
		}
	}
	if err := store.PutOverride(ctx, o); err != nil {
		return nil, err
	}
	return o, nil
}

// RemoveOverride ends the override of domain; the error wraps
// cache.ErrNotFound when none is in force.
func (op *Operator) RemoveOverride(ctx context.Context, domain string) error {
	store, err := op.overrides()
	if err != nil {
		return err
	}
	d, err := sts.NormalizeDomain(domain)
	if err != nil {
		return err
	}
	if err := store.DeleteOverride(ctx, d); err != nil {
		return fmt.Errorf("no override of %s in force: %w", d, err)
	}
	return nil
}

// Overrides returns the overrides in force, by domain.
func (op *Operator) Overrides(ctx context.Context) ([]*cache.Override, error) {
	store, err := op.overrides()
	if err != nil {
		return nil, err
	}
	return store.Overrides(ctx)
}

func (op *Operator) overrides() (cache.OverrideStore, error) {
	s, ok := op.cache.(cache.OverrideStore)
	if !ok {
		return nil, fmt.Errorf("cache %T keeps no overrides", op.cache)
	}
	return s, nil
}

// PrintOverrides writes the overrides in force with WriteOverrides.
func (op *Operator) PrintOverrides(ctx context.Context, w io.Writer, asJSON bool) error {
	list, err := op.Overrides(ctx)
	if err != nil {
		return err
	}
	return WriteOverrides(w, list, asJSON)
}

// WriteOverrides writes overrides as a table, or as a JSON list of
// resolver.OverrideJSON.
func WriteOverrides(w io.Writer, list []*cache.Override, asJSON bool) error {
	if asJSON {
		out := make([]*resolver.OverrideJSON, len(list))
		for i, o := range list {
			out[i] = resolver.NewOverrideJSON(o)
		}
		return textout.WriteJSON(w, out)
	}
	tw := &textout.Writer{W: w}
	if len(list) == 0 {
		tw.Printf("no override in force\n")
		return tw.Err
	}
	tw.Printf("%-30s %-8s %-20s %-12s %s\n", "DOMAIN", "MODE", "EXPIRES (UTC)", "BY", "REASON")
	for _, o := range list {
		tw.Textf("%-30s %-8s %-20s %-12s %s\n", o.Domain, o.Mode, o.Expires.UTC().Format(time.RFC3339), o.Actor, o.Reason)
	}
	return tw.Err
}

// OverrideLine describes an override in one line, for the confirmation
// of "mtasts override add" and for logs.
func OverrideLine(o *cache.Override) string {
	return fmt.Sprintf("%s: mode %s until %s (%s from now), by %s: %s", o.Domain, o.Mode,
		o.Expires.UTC().Format(time.RFC3339), o.Expires.Sub(o.Created).Round(time.Second), o.Actor, o.Reason)
}
