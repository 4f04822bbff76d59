package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/reportstore"
)

func newReportsExportCmd(e *env, rf *reportsFlags) *cobra.Command {
	var p periodFlags
	var format string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write stored reports as CSV or JSON",
		Long: `Write the stored reports to standard output, oldest stored first.

--format json writes a JSON array; each element holds the report in the
wire format of RFC 8460 §4.4 with where it came from. --format csv writes
one row per failure detail (or per policy result without failures) with the
report's and the policy's columns repeated, for spreadsheets. A cell that
starts with "=", "+", "-", "@", a tab or a carriage return gets a leading
"'" so that no spreadsheet runs it as a formula (reports are written by
strangers).`,
		Example: `  mtasts reports export --format csv --since 30d > tlsrpt.csv
  mtasts reports export --format json --domain example.com | jq .`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := p.filter(e.now())
			if err != nil {
				return err
			}
			if rf.asJSON {
				format = "json"
			}
			if format != "csv" && format != "json" {
				return usageError(fmt.Errorf("--format %q: want csv or json", format))
			}
			return runReportsExport(cmd.Context(), e, rf, f, format)
		},
	}
	p.register(cmd)
	cmd.Flags().StringVar(&format, "format", "csv", "csv or json (--json is --format json)")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"csv", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runReportsExport(ctx context.Context, e *env, rf *reportsFlags, f reportstore.Filter, format string) error {
	store, err := rf.open(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Export(ctx, e.stdout, f, format); err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	return nil
}
