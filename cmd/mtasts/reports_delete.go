package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/internal/textout"
)

// Exit status of reports delete when the prompt was not answered yes.
const exitDeclined = 1

func newReportsDeleteCmd(e *env, rf *reportsFlags) *cobra.Command {
	var reportID string
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete ID|--report-id REPORT-ID",
		Short: "Delete a stored report",
		Long: `Delete a stored report: its raw bytes, its policy results and failure
details, and its sessions from the daily sums, which are counted again from
the reports that remain. Name it by the ID "mtasts reports list" shows, or by
the report-id its sender gave it (--report-id), which must then name one
report only.

The report is shown and the deletion asked for on the terminal; --yes
deletes without asking (for scripts). A report that arrives again after it
was deleted is stored again.

Exit status: 0 deleted, 1 not deleted because the answer was not "yes",
2 no report has this ID or report-id (or several have this report-id),
3 the store could not be used, or a signal came before the answer.`,
		Example: `  mtasts reports delete 42
  mtasts reports delete --yes --report-id 2026-11-20T00:00:00Z_example.com`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (reportID != "") {
				return usageError(errors.New("name the report by ID or by --report-id, one of the two"))
			}
			var id int64
			if len(args) == 1 {
				var err error
				if id, err = parseID(args[0]); err != nil {
					return err
				}
			}
			return runReportsDelete(cmd.Context(), e, rf, id, reportID, yes)
		},
	}
	cmd.Flags().StringVar(&reportID, "report-id", "", "delete the report with this report-id")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking")
	return cmd
}

func runReportsDelete(ctx context.Context, e *env, rf *reportsFlags, id int64, reportID string, yes bool) error {
	store, err := rf.open(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	info, err := store.FindReport(ctx, id, reportID)
	if err != nil {
		return storeError(err)
	}
	w := &textout.Writer{W: e.stdout}
	if !yes {
		yes, err := confirm(ctx, e, fmt.Sprintf("Delete %s? [y/N] ", info.Describe()))
		if err != nil {
			return &exitError{code: exitCannotRun, err: fmt.Errorf("report %d not deleted: %w", info.ID, err)}
		}
		if !yes {
			w.Textf("report %d not deleted\n", info.ID)
			if w.Err != nil {
				return w.Err
			}
			return exitWith(exitDeclined)
		}
	}
	if err := store.DeleteReport(ctx, info.ID); err != nil {
		return storeError(err)
	}
	if rf.asJSON {
		return textout.WriteJSON(e.stdout, map[string]any{"deleted": info})
	}
	w.Textf("deleted %s\n", info.Describe())
	return w.Err
}

// confirm asks question on standard error and reports whether the answer
// read from standard input is yes. No answer (end of input) is no; ctx
// ending is an error.
func confirm(ctx context.Context, e *env, question string) (bool, error) {
	fmt.Fprint(e.stderr, question)
	answer, err := bufio.NewReader(e.stdinUntil(ctx)).ReadString('\n')
	if err != nil && ctx.Err() != nil {
		fmt.Fprintln(e.stderr)
		return false, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes", nil
}
