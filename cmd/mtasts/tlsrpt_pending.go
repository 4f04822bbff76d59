package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrptsend"
)

// pendingJSON is the output of tlsrpt pending.
type pendingJSON struct {
	Days       []pendingDayJSON      `json:"days"`
	Deliveries []pendingDeliveryJSON `json:"deliveries"`
}

// pendingDayJSON is a policy domain's outcomes of a day not yet built.
type pendingDayJSON struct {
	Day        string `json:"day"`
	Domain     string `json:"domain"`
	Successful int64  `json:"successful"`
	Failed     int64  `json:"failed"`
	// State is "collecting" for today, "to send" for a past day.
	State string `json:"state"`
}

// pendingDeliveryJSON is a queued delivery not yet done.
type pendingDeliveryJSON struct {
	Day      string    `json:"day"`
	Domain   string    `json:"domain"`
	URI      string    `json:"rua"`
	ReportID string    `json:"report_id"`
	Status   string    `json:"status"`
	Attempts int       `json:"attempts"`
	Next     time.Time `json:"next_attempt"`
	Error    string    `json:"last_error,omitempty"`
}

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
	out := pendingJSON{Days: []pendingDayJSON{}, Deliveries: []pendingDeliveryJSON{}}
	today := tlsrptsend.Day(e.now())
	for _, t := range totals {
		if t.Built {
			continue
		}
		state := "to send"
		if !t.Day.Before(today) {
			state = "collecting"
		}
		out.Days = append(out.Days, pendingDayJSON{Day: t.Day.Format(time.DateOnly), Domain: t.Domain, Successful: t.Successful, Failed: t.Failed, State: state})
	}
	for _, q := range queued {
		var st tlsrptsend.DeliveryState
		if err := json.Unmarshal(q.State, &st); err != nil {
			return &exitError{code: exitCannotRun, err: err}
		}
		out.Deliveries = append(out.Deliveries, pendingDeliveryJSON{Day: q.Day.Format(time.DateOnly), Domain: q.Domain, URI: q.URI,
			ReportID: q.ReportID, Status: q.Status, Attempts: st.Attempts, Next: q.NextAttempt, Error: st.LastError})
	}
	if f.store.asJSON {
		return textout.WriteJSON(e.stdout, out)
	}
	w := &textout.Writer{W: e.stdout}
	if len(out.Days) == 0 && len(out.Deliveries) == 0 {
		w.Printf("nothing to send\n")
		return w.Err
	}
	for _, d := range out.Days {
		w.Printf("%s  %-30s  %d successful, %d failed  (%s)\n", d.Day, d.Domain, d.Successful, d.Failed, d.State)
	}
	for _, d := range out.Deliveries {
		w.Printf("%s  %-30s  %s  %s, %d attempts, next %s", d.Day, d.Domain, d.URI, d.Status, d.Attempts, d.Next.Format(time.RFC3339))
		if d.Error != "" {
			w.Printf(": %s", d.Error)
		}
		w.Printf("\n")
	}
	return w.Err
}
