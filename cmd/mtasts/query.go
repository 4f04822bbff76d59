package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/enforce"
	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/resolver"
)

// queryFlags are the flags of mtasts query.
type queryFlags struct {
	net           netFlags
	cache         string
	config        string
	asJSON        bool
	strictTesting bool
	dane          bool
}

func newQueryCmd(e *env) *cobra.Command {
	var f queryFlags
	cmd := &cobra.Command{
		Use:   "query DOMAIN",
		Short: "Show what mtasts daemon answers Postfix for a domain, and why",
		Long: `Decide for one next-hop domain what a sending MTA must do under MTA-STS
(RFC 8461) — enforce, testing, none, no-policy, tempfail or dane — and print
the decision, the policy's mx patterns in policy order, where the decision
came from (cache, fetch, stale cache after a failure, negative cache, DNS)
and why, with the reply mtasts daemon gives Postfix.

DOMAIN may be written as Postfix looks it up: "example.com",
"example.com:2525", or "[smarthost.example]:587" (RFC 8461 §3.4: a smart
host's domain is the policy domain).

By default nothing is cached between runs; --cache URL uses (and fills) a
cache such as the daemon's. --config reads the daemon's configuration file
for its zones and options, so the answer is the daemon's.

Exit status: 0 a policy applies (enforce, testing, none, dane), 2 no usable
policy or a temporary failure (no-policy, tempfail), 3 the command could
not run.`,
		Example: `  mtasts query example.com
  mtasts query --json example.com
  mtasts query --cache sqlite:///var/lib/mtasts/cache.db --config /etc/mtasts/mtasts.toml example.com
  mtasts query --resolver 127.0.0.1:5353 --ca-file test-ca.pem '[relay.example.net]:587'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuery(cmd.Context(), e, cmd, &f, args[0])
		},
	}
	f.net.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.cache, "cache", "", "policy cache to use and fill: memory:, sqlite:///path, redis://…, postgres://… (default: none)")
	fl.StringVar(&f.config, "config", "", "daemon configuration file whose [daemon] zones and reply options apply")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	fl.BoolVar(&f.strictTesting, "strict-testing", false, "enforce policies in mode testing too")
	fl.BoolVar(&f.dane, "dane", false, "check for DNSSEC-signed TLSA records first (RFC 8461 §2; default: when the resolver validates DNSSEC)")
	return cmd
}

func runQuery(ctx context.Context, e *env, cmd *cobra.Command, f *queryFlags, key string) error {
	cfg, err := enforce.Load(f.config, e.getenv)
	if err != nil {
		return usageError(err)
	}
	set := cmd.Flags().Changed
	f.net.override(cfg, set)
	if set("strict-testing") {
		cfg.Zone.StrictTesting = &f.strictTesting
	}
	if set("dane") {
		cfg.DANE = &f.dane
	}
	// Nothing cached between runs unless asked: the file's cache is the
	// daemon's.
	cfg.Cache = f.cache
	if _, err := liveResolver(ctx, cfg.Resolver); err != nil {
		return err
	}
	res, err := enforce.Query(ctx, cfg, enforceOptions(e), key)
	if err != nil {
		return usageError(err)
	}
	if f.asJSON {
		if err := textout.WriteJSON(e.stdout, res.JSON()); err != nil {
			return err
		}
	} else if err := res.WriteText(e.stdout); err != nil {
		return err
	}
	switch res.Decision.Kind {
	case resolver.NoPolicy, resolver.Tempfail:
		return exitWith(exitErrors)
	}
	if res.Answer == enforce.AnswerUnusable {
		return exitWith(exitErrors)
	}
	return nil
}
