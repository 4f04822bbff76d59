package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// exportJSON is one report in the JSON export.
type exportJSON struct {
	ID       int64                 `json:"id"`
	Received time.Time             `json:"received"`
	Source   reportstore.Source    `json:"source"`
	Origin   string                `json:"origin,omitempty"`
	Mail     *reportstore.MailInfo `json:"mail,omitempty"`
	Report   *tlsrpt.Report        `json:"report"`
}

// csvHeader names the columns of the CSV export: one row per failure
// detail, or per policy result without failure details.
var csvHeader = []string{"id", "organization", "report_id", "start", "end", "day", "policy_domain", "policy_type",
	"successful", "failed", "result_type", "sending_mta_ip", "receiving_mx_hostname", "receiving_ip",
	"failed_session_count", "failure_reason_code", "source", "dkim"}

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
	var each func(*reportstore.StoredReport) error
	var finish func() error
	switch format {
	case "json":
		n := 0
		each = func(r *reportstore.StoredReport) error {
			data, err := marshalJSON(exportJSON{ID: r.ID, Received: r.Received, Source: r.Source, Origin: r.Origin, Mail: r.Mail, Report: r.Report})
			if err != nil {
				return err
			}
			sep := ",\n"
			if n == 0 {
				sep = "[\n"
			}
			n++
			_, err = fmt.Fprintf(e.stdout, "%s%s", sep, data)
			return err
		}
		finish = func() error {
			end := "\n]\n"
			if n == 0 {
				end = "[]\n"
			}
			_, err := fmt.Fprint(e.stdout, end)
			return err
		}
	default:
		cw := csv.NewWriter(e.stdout)
		if err := cw.Write(csvHeader); err != nil {
			return err
		}
		each = func(r *reportstore.StoredReport) error { return writeCSVRows(cw, r) }
		finish = func() error {
			cw.Flush()
			return cw.Error()
		}
	}
	if err := store.EachReport(ctx, f, each); err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	return finish()
}

// csvCell neutralises a cell that a spreadsheet would read as a formula
// (OWASP, CSV injection): one that starts with "=", "+", "-", "@", a tab
// or a carriage return gets a leading "'", which spreadsheets show as
// text. Reports are written by anyone who can POST or mail one.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// writeCSVRow writes one row of cells, each neutralised with csvCell.
func writeCSVRow(cw *csv.Writer, row []string) error {
	cells := make([]string, len(row))
	for i, c := range row {
		cells[i] = csvCell(c)
	}
	return cw.Write(cells)
}

func writeCSVRows(cw *csv.Writer, r *reportstore.StoredReport) error {
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	addr := func(a netip.Addr) string {
		if !a.IsValid() {
			return ""
		}
		return a.String()
	}
	for _, p := range r.Report.Policies {
		head := []string{i64(r.ID), r.Organization, r.ReportID, r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339), r.Day,
			p.Policy.Domain, string(p.Policy.Type), i64(p.Summary.Successful), i64(p.Summary.Failed)}
		tail := []string{string(r.Source), string(r.DKIM)}
		if len(p.FailureDetails) == 0 {
			if err := writeCSVRow(cw, append(append(head, "", "", "", "", "", ""), tail...)); err != nil {
				return err
			}
		}
		for _, fd := range p.FailureDetails {
			row := append(append([]string{}, head...), string(fd.ResultType), addr(fd.SendingMTAIP),
				fd.ReceivingMXHostname, addr(fd.ReceivingIP), i64(fd.FailedSessionCount), fd.FailureReasonCode)
			if err := writeCSVRow(cw, append(row, tail...)); err != nil {
				return err
			}
		}
	}
	return nil
}
