package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/tlsrptsend"
)

// sendJSON is the output of tlsrpt send --json.
type sendJSON = tlsrptsend.SendView

func newTlsrptSendCmd(e *env, f *tlsrptFlags) *cobra.Command {
	var date string
	var now, dryRun bool
	cmd := &cobra.Command{
		Use:   "send",
		Short: "Build a day's reports and deliver them, and retry what is due",
		Long: `Build the reports of one UTC day (yesterday by default) for every policy
domain with outcomes and a valid _smtp._tls record (RFC 8460 §3, §4), queue
one delivery per rua, and make every delivery that is due, of that day and
of earlier ones (RFC 8460 §5.5: retries for 24 hours; run send again, or
the daemon, for the retries). A day's reports are built once: sending
again only retries.

Unless --now, send first waits 5 minutes and a random delay of up to an
hour after the end of the day, which spreads the load on receivers (RFC
8460 §4.1) and leaves collectors the time to store the day's last outcomes.
--dry-run builds the reports and shows them, sending and storing nothing.
Only one sender works on a store at a time: another one running makes
send exit with status 2.

Exit status: 0 done (deliveries may wait for a retry), 1 some deliveries
given up, suppressed or without transport, 2 another sender holds the
store, 3 could not run.`,
		Example: `  mtasts tlsrpt send --org "Example Mail" --contact postmaster@example.net --submitter example.net
  mtasts tlsrpt send --date 2026-12-06 --now --dry-run --org X --contact x@example.net --submitter example.net
  mtasts tlsrpt send --relay smtp.example.net:587 --relay-user reports --relay-password-file /etc/mtasts/relay.pw ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			day, err := parseDay(date, e.now())
			if err != nil {
				return err
			}
			if err := f.checkSubmitter(); err != nil {
				return err
			}
			s, err := f.sender(e)
			if err != nil {
				return err
			}
			return runTlsrptSend(cmd.Context(), e, f, s, day, now, dryRun)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&date, "date", "", "the UTC day to report on, YYYY-MM-DD (default: yesterday)")
	fl.BoolVar(&now, "now", false, "send at once, without the random delay after midnight")
	fl.BoolVar(&dryRun, "dry-run", false, "build and show the reports; send and store nothing")
	fl.StringVar(&f.cfg.ArchiveDir, "archive", "", "directory receiving a copy of every report built")
	fl.IntVar(&f.cfg.MaxReportSize, "max-size", f.cfg.MaxReportSize, "largest gzipped report sent, in bytes")
	fl.Int64Var(&f.cfg.SuppressAfter, "suppress-after", f.cfg.SuppressAfter, "suppress a rua after this many deliveries in a row given up (0: never)")
	f.net.register(cmd)
	return cmd
}

func runTlsrptSend(ctx context.Context, e *env, f *tlsrptFlags, s *tlsrptsend.Sender, day time.Time, now, dryRun bool) error {
	if !e.now().After(day.Add(24 * time.Hour)) {
		return usageError(fmt.Errorf("%w: %s (RFC 8460 §4.1: a report covers a whole UTC day)", tlsrptsend.ErrTooEarly, day.Format(time.DateOnly)))
	}
	store, err := f.store.open(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	s.Store = store
	var out *sendJSON
	if dryRun {
		var reports []tlsrptsend.Planned
		var skipped []tlsrptsend.Skip
		reports, skipped, err = s.Plan(ctx, day)
		out = tlsrptsend.NewPlanView(day, reports, skipped)
	} else {
		var res *tlsrptsend.DayResult
		if res, err = s.SendDay(ctx, day, now); res != nil {
			out = tlsrptsend.NewSendView(day, res)
		}
	}
	switch {
	case errors.Is(err, tlsrptsend.ErrLeaseHeld):
		return &exitError{code: exitErrors, err: err}
	case err != nil:
		return &exitError{code: exitCannotRun, err: err}
	}
	if err := output(e, f.store.asJSON, out); err != nil {
		return err
	}
	if d := out.Deliveries; d.Failed+d.Suppressed+d.Unsendable > 0 {
		return exitWith(exitWarnings)
	}
	return nil
}
