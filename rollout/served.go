package rollout

import (
	"context"
	"fmt"

	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/serve"
	"github.com/mtasts/mtasts/sts"
)

// Served returns the policy domain is served with under cfg and its id,
// as "mtasts serve" renders them (live MX hosts looked up with r for mx
// auto domains). Nothing is written to the data directory: for a policy
// the running server has not loaded yet, the id is provisional.
func Served(ctx context.Context, cfg *serve.Config, domain string, r policyhost.MXResolver) (ServedPolicy, error) {
	domain, err := sts.NormalizeDomain(domain)
	if err != nil {
		return ServedPolicy{}, fmt.Errorf("rollout: %w", err)
	}
	state, err := policyhost.OpenState(cfg.DataDir, nil)
	if err != nil {
		return ServedPolicy{}, fmt.Errorf("rollout: %w", err)
	}
	state.SetReadOnly()
	return served(ctx, cfg, domain, state, r)
}

// served renders domain's policy under cfg with its id from state.
func served(ctx context.Context, cfg *serve.Config, domain string, state *policyhost.State, r policyhost.MXResolver) (ServedPolicy, error) {
	if _, err := domainIndex(cfg, domain); err != nil {
		return ServedPolicy{}, err
	}
	policies, err := policyhost.Policies(ctx, &cfg.Config, state, r)
	if err != nil {
		return ServedPolicy{}, fmt.Errorf("rollout: rendering the policies of %s: %w", cfg.Path, err)
	}
	for _, p := range policies {
		if p.Domain == domain {
			return newServedPolicy(p.ID, p.Text)
		}
	}
	return ServedPolicy{}, fmt.Errorf("rollout: %s: no policy rendered for %s", cfg.Path, domain)
}

// newServedPolicy reads a rendered policy text.
func newServedPolicy(id string, text []byte) (ServedPolicy, error) {
	p, err := sts.ParsePolicy(text)
	if err != nil {
		return ServedPolicy{}, fmt.Errorf("rollout: served policy: %w", err)
	}
	return ServedPolicy{ID: id, Mode: p.Mode, MaxAge: p.MaxAge, MX: p.MX, Text: string(text)}, nil
}

// domainIndex returns the position of domain among cfg's domains.
func domainIndex(cfg *serve.Config, domain string) (int, error) {
	for i, d := range cfg.Domains {
		if d.Domain == domain {
			return i, nil
		}
	}
	return 0, fmt.Errorf("rollout: %s is not a domain of %s", domain, cfg.Path)
}
