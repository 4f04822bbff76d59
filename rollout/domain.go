package rollout

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/serve"
	"github.com/mtasts/mtasts/sts"
)

// Domain is one domain of a "mtasts serve" configuration, opened for a
// roll-out decision with the report store that holds its evidence and
// its audit log.
type Domain struct {
	// Name is the domain, normalized.
	Name string
	// Config is the serve configuration that serves it.
	Config *serve.Config
	// Store is the report store; Close closes it.
	Store *reportstore.Store
	// Thresholds are the domain's, from the [rollout] section (see
	// Config).
	Thresholds Thresholds
	// Resolver looks up live MX hosts (for mx auto domains).
	Resolver policyhost.MXResolver
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives warnings for people, such as a serve that did not
	// load a change in time; nil discards them.
	Log io.Writer
}

// OpenDomain loads the serve configuration at configPath, checks that it
// serves domain, reads its thresholds, and opens the report store at storeURL (the
// configuration's store when empty).
func OpenDomain(ctx context.Context, configPath, storeURL, domain string, r policyhost.MXResolver, now func() time.Time) (*Domain, error) {
	cfg, err := serve.Load(configPath)
	if err != nil {
		return nil, err
	}
	d, err := sts.NormalizeDomain(domain)
	if err != nil {
		return nil, fmt.Errorf("domain %q: %w", domain, err)
	}
	if _, err := domainIndex(cfg, d); err != nil {
		return nil, err
	}
	rc, err := LoadConfig(configPath)
	if err != nil {
		return nil, err
	}
	if storeURL == "" {
		storeURL = cfg.StoreURL()
	}
	store, err := reportstore.Open(ctx, storeURL, reportstore.Options{Now: now})
	if err != nil {
		return nil, err
	}
	return &Domain{Name: d, Config: cfg, Store: store, Thresholds: rc.For(d), Resolver: r, Now: now}, nil
}

// Close closes the report store.
func (d *Domain) Close() error { return d.Store.Close() }

// Verdict judges whether the domain can switch to enforce: the policy it
// is served with, the evidence from the store and a fresh check by
// checker, and the verdict under th.
func (d *Domain) Verdict(ctx context.Context, checker *check.Checker, th Thresholds) (ServedPolicy, Verdict, error) {
	served, err := Served(ctx, d.Config, d.Name, d.Resolver)
	if err != nil {
		return served, Verdict{}, err
	}
	ev, err := Gather(ctx, Sources{Store: d.Store, Checker: checker, Now: d.Now}, d.Name, served, th)
	if err != nil {
		return served, Verdict{}, err
	}
	return served, Evaluate(ev, th), nil
}

// SetMode switches the domain to mode in its configuration file (see
// SetMode), waits up to wait for a running serve to load it and give the
// new policy id, and records the change in the audit log under action
// (ActionPromote or ActionDemote) with actor, forced and the verdict v
// (nil for none). A serve that does not load the change in time is only
// a warning in d.Log: the change is made and recorded.
func (d *Domain) SetMode(ctx context.Context, mode sts.Mode, action, actor string, forced bool, v *Verdict, wait time.Duration) (*Change, error) {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	c, err := SetMode(ctx, d.Config.Path, d.Name, mode, d.Resolver, now)
	if err != nil {
		return nil, err
	}
	if c.Pending {
		wctx, cancel := context.WithTimeout(ctx, wait)
		id, err := WaitServed(wctx, d.Config.DataDir, d.Name, c.New.Text, time.Second/4)
		cancel()
		if err != nil && d.Log != nil {
			fmt.Fprintf(d.Log, "warning: %v; the running mtasts serve loads the file on SIGHUP or within serve.config_check: run \"mtasts policy records %s\" then\n", err, d.Name)
		}
		c.New.ID = id
	}
	if _, err := Audit(ctx, d.Store, c, action, actor, forced, v); err != nil {
		return c, fmt.Errorf("the mode was changed but not recorded: %w", err)
	}
	return c, nil
}
