package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/internal/procenv"
	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/rollout"
	"github.com/mtasts/mtasts/serve"
	"github.com/mtasts/mtasts/sts"
)

// rolloutFlags are the flags promote and demote share.
type rolloutFlags struct {
	net    netFlags
	config string
	db     string
	actor  string
	wait   time.Duration
	asJSON bool
}

func (f *rolloutFlags) register(cmd *cobra.Command) {
	f.net.register(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", serve.DefaultPath, "configuration file of mtasts serve")
	fl.StringVar(&f.db, "db", "", "report store URL (default: the store of mtasts serve, from the configuration)")
	fl.StringVar(&f.actor, "actor", "", "who makes the change, for the audit log (default: $SUDO_USER, else the user running mtasts)")
	fl.DurationVar(&f.wait, "wait", time.Minute, "how long to wait for a running mtasts serve to load the change and give the new policy id")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
}

// open opens domain for a roll-out command.
func (f *rolloutFlags) open(ctx context.Context, e *env, domain string) (*rollout.Domain, error) {
	resolver, err := f.net.liveDNSClient(ctx)
	if err != nil {
		return nil, err
	}
	d, err := rollout.OpenDomain(ctx, f.config, f.db, domain, resolver, e.now)
	if err != nil {
		return nil, usageError(err)
	}
	d.Log = e.stderr
	return d, nil
}

// actorName is who makes a change, for the audit log.
func (f *rolloutFlags) actorName(e *env) string {
	if f.actor != "" {
		return f.actor
	}
	return procenv.Actor(e.getenv)
}

func newPromoteCmd(e *env) *cobra.Command {
	var f rolloutFlags
	var th rollout.Thresholds
	var apply, force, history bool
	cmd := &cobra.Command{
		Use:   "promote DOMAIN",
		Short: "Say whether a served domain is ready for mode enforce, and switch it",
		Long: `Judge whether DOMAIN, served by "mtasts serve" in mode testing, can switch to
enforce without cutting senders off, from the TLS reports (RFC 8460) stored
over the last --window and a fresh check of the domain: sessions and
failures per reporting organisation, result type and MX host; MX hosts no
sender was seen delivering through; live MX hosts the served policy does not
cover (RFC 8461 §4.1) or that fail validation now (§4.2); and whether enough
independent organisations reported.

The verdict is ready, not-ready (each reason with a stable code, the MX host,
result type or organisation, the numbers and the fix) or insufficient-data.

With --apply, a ready domain is switched to enforce: the mode of its
[[domain]] section of the configuration file is rewritten in place (comments
and layout kept), and the policy gets a new id. A running mtasts serve
loads the file and serves the new policy; without one, the id is assigned
now. Publish the _mta-sts record printed (or let serve publish it, with
[serve.dns_update]). --force promotes whatever the verdict. Every change is
kept in the audit log of the store, with the verdict and its evidence;
--history lists it.

The thresholds come from the [rollout] section of the configuration file
and its [rollout.domains."DOMAIN"] tables (docs/mtasts.example.toml);
the flags below override them.

Exit status: 0 ready (or promoted), 1 insufficient data, 2 not ready (and not
promoted), 3 the command could not run.`,
		Example: `  mtasts promote example.com --config /etc/mtasts/mtasts.toml
  mtasts promote --json example.com
  mtasts promote --apply example.com
  mtasts promote --history example.com`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := f.open(cmd.Context(), e, args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			if history {
				return printHistory(cmd.Context(), e, r, f.asJSON)
			}
			thresholds := r.Thresholds
			for name, set := range map[string]func(){
				"window":                        func() { thresholds.Window = th.Window },
				"min-organizations":             func() { thresholds.MinOrganizations = th.MinOrganizations },
				"min-sessions":                  func() { thresholds.MinSessions = th.MinSessions },
				"min-days":                      func() { thresholds.MinDays = th.MinDays },
				"max-failure-rate":              func() { thresholds.MaxFailureRate = th.MaxFailureRate },
				"max-organization-failure-rate": func() { thresholds.MaxOrganizationFailureRate = th.MaxOrganizationFailureRate },
			} {
				if cmd.Flags().Changed(name) {
					set()
				}
			}
			return runPromote(cmd.Context(), e, r, &f, thresholds, apply, force)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&apply, "apply", false, "switch the domain to enforce when it is ready")
	fl.BoolVar(&force, "force", false, "with --apply, switch whatever the verdict")
	fl.BoolVar(&history, "history", false, "list the changes of the domain's policy from the audit log")
	fl.DurationVar(&th.Window, "window", rollout.DefaultWindow, "how far back reports are read")
	fl.IntVar(&th.MinOrganizations, "min-organizations", rollout.DefaultMinOrganizations, "independent organisations that must have reported")
	fl.Int64Var(&th.MinSessions, "min-sessions", rollout.DefaultMinSessions, "sessions the reports must count")
	fl.IntVar(&th.MinDays, "min-days", rollout.DefaultMinDays, "days that must have reports")
	fl.Float64Var(&th.MaxFailureRate, "max-failure-rate", 0, "share of all sessions one result type at one MX host may fail (0.001 is one in a thousand)")
	fl.Float64Var(&th.MaxOrganizationFailureRate, "max-organization-failure-rate", rollout.DefaultMaxOrganizationFailureRate, "share of its sessions one organisation may fail")
	return cmd
}

func runPromote(ctx context.Context, e *env, r *rollout.Domain, f *rolloutFlags, th rollout.Thresholds, apply, force bool) error {
	roots, err := f.net.rootCAs(e)
	if err != nil {
		return usageError(err)
	}
	checker, err := check.New(check.Options{Resolver: f.net.resolver, RootCAs: roots, Dial: e.dial, Timeout: f.net.timeout, Now: e.now, UserAgent: userAgent()})
	if err != nil {
		return usageError(err)
	}
	served, v, err := r.Verdict(ctx, checker, th)
	if err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	code := map[rollout.Status]int{rollout.Ready: exitOK, rollout.InsufficientData: exitWarnings, rollout.NotReady: exitErrors}[v.Status]
	if apply && served.Mode == sts.ModeEnforce {
		return usageError(fmt.Errorf("%s is already served in mode enforce (policy id %s)", r.Name, served.ID))
	}
	if !apply || (v.Status != rollout.Ready && !force) {
		if err := writeVerdict(e, r, &v, nil, f.asJSON); err != nil {
			return err
		}
		if apply {
			return &exitError{code: code, err: fmt.Errorf("%s not promoted: the verdict is %s (--force promotes anyway)", r.Name, v.Status)}
		}
		return exitWith(code)
	}
	c, err := r.SetMode(ctx, sts.ModeEnforce, rollout.ActionPromote, f.actorName(e), v.Status != rollout.Ready, &v, f.wait)
	if err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	return writeVerdict(e, r, &v, c, f.asJSON)
}

// writeVerdict prints a verdict, and the change made if c is not nil.
func writeVerdict(e *env, r *rollout.Domain, v *rollout.Verdict, c *rollout.Change, asJSON bool) error {
	if asJSON && c == nil {
		return textout.WriteJSON(e.stdout, v)
	}
	if asJSON {
		return textout.WriteJSON(e.stdout, struct {
			*rollout.Verdict
			Change *rollout.Change `json:"change"`
		}{v, c})
	}
	if err := v.WriteText(e.stdout); err != nil || c == nil {
		return err
	}
	return c.WriteText(e.stdout, r.Config.DNSUpdate.Server != "")
}

func newDemoteCmd(e *env) *cobra.Command {
	var f rolloutFlags
	var to string
	cmd := &cobra.Command{
		Use:   "demote DOMAIN --to testing|none",
		Short: "Switch a served domain back to mode testing or none, at once",
		Long: `Switch DOMAIN, served by "mtasts serve", back to mode testing or none, for
emergencies: senders stop refusing mail to MX hosts that fail validation as
soon as they fetch the new policy, which the new policy id tells them to do.

--to none follows RFC 8461 §8.3 for removing MTA-STS: the policy stays
served, with mode none and a new id, until every sender's cached copy of
the old policy has expired (its max_age after now); only then may the
_mta-sts record and the policy host be removed. The command says when.

The mode of the domain's [[domain]] section of the configuration file is
rewritten in place, as promote does; the change is kept in the audit log.

Exit status: 0 demoted, 3 the command could not run.`,
		Example: `  mtasts demote example.com --to testing
  mtasts demote example.com --to none --actor alice`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mode := sts.Mode(to)
			if mode != sts.ModeTesting && mode != sts.ModeNone {
				return usageError(fmt.Errorf(`--to: %q is neither "testing" nor "none"`, to))
			}
			r, err := f.open(cmd.Context(), e, args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			c, err := r.SetMode(cmd.Context(), mode, rollout.ActionDemote, f.actorName(e), false, nil, f.wait)
			if err != nil {
				return &exitError{code: exitCannotRun, err: err}
			}
			if f.asJSON {
				return textout.WriteJSON(e.stdout, c)
			}
			return c.WriteText(e.stdout, r.Config.DNSUpdate.Server != "")
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&to, "to", "", `the mode to switch to: "testing" or "none" (required)`)
	return cmd
}

// printHistory lists the audit log of the domain.
func printHistory(ctx context.Context, e *env, r *rollout.Domain, asJSON bool) error {
	entries, err := r.Store.AuditLog(ctx, r.Name)
	if err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	if asJSON {
		return textout.WriteJSON(e.stdout, entries)
	}
	return rollout.WriteHistory(e.stdout, r.Name, entries)
}
