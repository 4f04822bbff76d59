package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/enforce"
	"github.com/mtasts/mtasts/sts"
)

// operatorCmd is a command group working on the daemon's cache, found as
// the daemon finds it; sub adds its subcommands.
type operatorCmd struct {
	*cobra.Command
	config, cache string
	asJSON        bool
}

func newOperatorCmd(c *cobra.Command) *operatorCmd {
	o := &operatorCmd{Command: c}
	fl := c.PersistentFlags()
	fl.StringVar(&o.config, "config", "", "daemon configuration file whose [daemon] cache is used")
	fl.StringVar(&o.cache, "cache", "", "cache URL instead: sqlite:///path, redis://…, postgres://…")
	fl.BoolVar(&o.asJSON, "json", false, "print JSON")
	return o
}

// sub adds a subcommand that runs do on the opened cache.
func (o *operatorCmd) sub(e *env, use, short string, args cobra.PositionalArgs, do func(context.Context, *enforce.Operator, []string) error) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: args, RunE: func(c *cobra.Command, a []string) error {
		cfg, err := enforce.Load(o.config, e.getenv)
		if err != nil {
			return usageError(err)
		}
		if c.Flags().Changed("cache") {
			cfg.Cache = o.cache
		}
		op, err := enforce.OpenOperator(c.Context(), cfg, enforceOptions(e))
		if err != nil {
			return usageError(err)
		}
		defer op.Close()
		return do(c.Context(), op, a)
	}}
	o.AddCommand(c)
	return c
}

func newOverrideCmd(e *env) *cobra.Command {
	o := newOperatorCmd(&cobra.Command{Use: "override", Short: "Override a domain's MTA-STS policy for a while, on every MTA sharing the cache",
		Long: `Override the MTA-STS policy of a recipient domain in the daemon's cache
(--config's [daemon] cache, or --cache) until it expires: every daemon on
that cache applies it within 5 seconds and logs who set it, when and why.
  --mode testing  deliver as under a testing policy (NOTFOUND to Postfix),
                  e.g. while the domain's MX certificate is broken
  --mode none     as if the domain had no policy, without looking it up
  --mode enforce  enforce the domain's cached testing policy (one must be
                  cached: mtasts query --cache URL DOMAIN)
DANE stays DANE (RFC 8461 §2). Exit status: 0 done, 2 no such override,
3 the command could not run.`,
		Example: `  mtasts override add example.com --mode testing --for 48h --reason "MX certificate expired, ticket 4711"
  mtasts override list --config /etc/mtasts/mtasts.toml`})
	var mode, reason, actor string
	var d time.Duration
	add := o.sub(e, "add DOMAIN", "Put an override in force", cobra.ExactArgs(1), func(ctx context.Context, op *enforce.Operator, a []string) error {
		ov, err := op.AddOverride(ctx, a[0], sts.Mode(mode), d, reason, actor)
		if err != nil {
			return usageError(err)
		}
		_, err = fmt.Fprintln(e.stdout, "override", enforce.OverrideLine(ov))
		return err
	})
	add.Flags().StringVar(&mode, "mode", "", "testing, none or enforce (required)")
	add.Flags().DurationVar(&d, "for", 0, "how long it lasts, e.g. 48h (required)")
	add.Flags().StringVar(&reason, "reason", "", "why, for the log and the other operators (required)")
	add.Flags().StringVar(&actor, "actor", "", "who sets it (default: $SUDO_USER or the OS user)")
	o.sub(e, "list", "List the overrides in force", cobra.NoArgs, func(ctx context.Context, op *enforce.Operator, _ []string) error {
		return op.PrintOverrides(ctx, e.stdout, o.asJSON)
	})
	o.sub(e, "remove DOMAIN", "End an override now", cobra.ExactArgs(1), func(ctx context.Context, op *enforce.Operator, a []string) error {
		if err := op.RemoveOverride(ctx, a[0]); err != nil {
			return &exitError{code: exitErrors, err: err}
		}
		return nil
	})
	return o.Command
}

func newCacheCmd(e *env) *cobra.Command {
	o := newOperatorCmd(&cobra.Command{Use: "cache", Short: "List, show, purge and export the daemon's policy cache",
		Long: `Work on the daemon's policy cache (--config's [daemon] cache, or --cache),
any backend; each policy with the answer the daemon gives from it now,
overrides applied. A running daemon keeps purged policies in memory until
restarted (it never forgets a policy because its backend lost it): use
"mtasts override" to change its answers. Export writes JSON, or a Postfix
table (domain TAB policy) for smtp_tls_policy_maps = hash:FILE (postmap).`,
		Example: `  mtasts cache show example.com --json --config /etc/mtasts/mtasts.toml
  mtasts cache export --format postfix > /etc/postfix/mta-sts && postmap /etc/postfix/mta-sts`})
	o.sub(e, "list", "List the cached policies", cobra.NoArgs, func(ctx context.Context, op *enforce.Operator, _ []string) error {
		return op.PrintEntries(ctx, e.stdout, o.asJSON)
	})
	o.sub(e, "show DOMAIN", "Show all the cache holds about a domain", cobra.ExactArgs(1), func(ctx context.Context, op *enforce.Operator, a []string) error {
		return op.PrintState(ctx, e.stdout, a[0], o.asJSON)
	})
	o.sub(e, "purge [DOMAIN]", "Remove the cached policies, of one domain or all", cobra.MaximumNArgs(1), func(ctx context.Context, op *enforce.Operator, a []string) error {
		n, err := op.Purge(ctx, append(a, "")[0])
		if err == nil {
			_, err = fmt.Fprintf(e.stdout, "purged %d cached policies\n", n)
		}
		return err
	})
	var format string
	o.sub(e, "export", "Write every cached policy as JSON or a Postfix table", cobra.NoArgs, func(ctx context.Context, op *enforce.Operator, _ []string) error {
		return op.Export(ctx, e.stdout, format)
	}).Flags().StringVar(&format, "format", enforce.ExportJSON, "json or postfix")
	return o.Command
}
