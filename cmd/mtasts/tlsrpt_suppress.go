package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/reportstore"
)

func newTlsrptSuppressCmd(e *env, f *tlsrptFlags) *cobra.Command {
	var reason string
	var remove bool
	cmd := &cobra.Command{
		Use:   "suppress [DOMAIN|RUA...]",
		Short: "Stop sending reports to a policy domain or a rua, or list who gets none",
		Long: `Put policy domains or rua URIs on the suppression list: they get no report
(a domain's report is not even built). "send" also suppresses a rua by
itself after --suppress-after deliveries in a row given up for good, and a
delivery that goes through clears that count. --remove takes entries off
the list. Without arguments, list the entries.

Exit status: 0 done, 3 could not run.`,
		Example: `  mtasts tlsrpt suppress example.com --reason "asked us to stop"
  mtasts tlsrpt suppress mailto:tlsrpt@example.org
  mtasts tlsrpt suppress --remove example.com
  mtasts tlsrpt suppress --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTlsrptSuppress(cmd.Context(), e, f, args, reason, remove)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "suppressed by hand", "why, kept with the entry")
	cmd.Flags().BoolVar(&remove, "remove", false, "take the entries off the list")
	return cmd
}

func runTlsrptSuppress(ctx context.Context, e *env, f *tlsrptFlags, targets []string, reason string, remove bool) error {
	store, err := f.store.open(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, t := range targets {
		if remove {
			err = store.Unsuppress(ctx, t)
		} else {
			err = store.Suppress(ctx, t, reason)
		}
		if err != nil {
			return &exitError{code: exitCannotRun, err: err}
		}
	}
	if len(targets) > 0 {
		return nil
	}
	list, err := store.Suppressions(ctx)
	if err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	if f.store.asJSON {
		return textout.WriteJSON(e.stdout, map[string]any{"suppressions": append([]reportstore.Suppression{}, list...)})
	}
	w := &textout.Writer{W: e.stdout}
	for _, s := range list {
		how := "by hand"
		if !s.Manual {
			how = "after failures"
		}
		w.Printf("%-40s  %s, %d failures in a row: %s\n", s.Target, how, s.Failures, s.Reason)
	}
	return w.Err
}
