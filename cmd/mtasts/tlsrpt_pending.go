package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrptsend"
)

// pendingJSON is the output of tlsrpt pending --json; pendingDayJSON one
// of its days.
type (
	pendingJSON    = tlsrptsend.Pending
	pendingDayJSON = tlsrptsend.PendingDay
)

func newTlsrptPendingCmd(e *env, f *tlsrptFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "pending",
		Short: "Show the reports still to send: per domain and day, with their counts",
		Long: `Show what "mtasts tlsrpt send" has still to do: the policy domains with
outcomes on days whose reports are not built yet (today's are still being
collected), with their session counts, and the deliveries queued and not
yet done, with their attempts and next try (RFC 8460 §5.5).

Exit status: 0 done, 3 could not run.`,
		Example: `  mtasts tlsrpt pending
  mtasts tlsrpt pending --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runTlsrptPending(cmd.Context(), e, f) },
	}
}

func runTlsrptPending(ctx context.Context, e *env, f *tlsrptFlags) error {
	store, err := f.store.open(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	totals, err := store.OutcomeTotals(ctx, time.Time{}, time.Time{})
	if err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	queued, err := store.QueuedReports(ctx, reportstore.QueueFilter{Statuses: []string{string(tlsrptsend.DeliveryPending), string(tlsrptsend.DeliverySending)}})
	if err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	var out *pendingJSON
	out, err = tlsrptsend.NewPending(totals, queued, tlsrptsend.Day(e.now()))
	if err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	return output(e, f.store.asJSON, out)
}
