package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/rollout/monitor"
	"github.com/mtasts/mtasts/serve"
)

func newStatusCmd(e *env) *cobra.Command {
	var config, db string
	var asJSON bool
	var alerts int
	cmd := &cobra.Command{
		Use:   "status [DOMAIN]",
		Short: "Show the conditions the monitor of mtasts serve has open, and its alerts",
		Long: `Show, for every domain the configuration serves (or DOMAIN alone), what
the monitor of "mtasts serve" ([serve.monitor]) found at its last check and
has not seen end: certificates expiring, MX hosts the policy does not cover,
a missing or stale _mta-sts record, a failing policy fetch, a missing
TLS-RPT record, TLS report failures, a domain left in testing though ready;
each with its message and fix, whether it has alerted yet, and the domain's
recent alerts. It reads the store serve writes, so it shows what the
running server saw; "mtasts check" checks live.

Exit status: 0 nothing open, 1 warnings only or a domain not checked yet,
2 a critical condition, 3 the command could not run.`,
		Example: `  mtasts status
  mtasts status example.com --json
  mtasts status --config /etc/mtasts/mtasts.toml --db postgres://mtasts@db/mtasts`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := serve.Load(config)
			if err != nil {
				return usageError(err)
			}
			if db == "" {
				db = cfg.StoreURL()
			}
			store, err := reportstore.Open(cmd.Context(), db, reportstore.Options{Now: e.now})
			if err != nil {
				return &exitError{code: exitCannotRun, err: err}
			}
			defer store.Close()
			v, err := monitor.Status(cmd.Context(), store, cfg, append(args, "")[0], alerts)
			if errors.Is(err, monitor.ErrUnknownDomain) {
				return usageError(err)
			} else if err != nil {
				return &exitError{code: exitCannotRun, err: err}
			}
			if err := output(e, asJSON, v); err != nil {
				return err
			}
			return exitWith(map[string]int{monitor.StatusOK: exitOK, monitor.StatusUnchecked: exitWarnings, "warning": exitWarnings, "critical": exitErrors}[v.Worst()])
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&config, "config", "c", serve.DefaultPath, "configuration file of mtasts serve")
	fl.StringVar(&db, "db", "", "report store URL (default: the store of mtasts serve, from the configuration)")
	fl.IntVar(&alerts, "alerts", 5, "recent alerts shown per domain")
	fl.BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}
