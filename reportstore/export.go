package reportstore

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/tlsrpt"
)

// Export formats.
const (
	// ExportCSV is one row per failure detail, or per policy result
	// without failure details, with the report's and the policy's columns
	// repeated, for spreadsheets.
	ExportCSV = "csv"
	// ExportJSON is a JSON array of ExportedReport.
	ExportJSON = "json"
)

// ExportedReport is one report in the JSON export: the report in the wire
// format of RFC 8460 §4.4 with where it came from.
type ExportedReport struct {
	ID       int64          `json:"id"`
	Received time.Time      `json:"received"`
	Source   Source         `json:"source"`
	Origin   string         `json:"origin,omitempty"`
	Mail     *MailInfo      `json:"mail,omitempty"`
	Report   *tlsrpt.Report `json:"report"`
}

// CSVHeader names the columns of the CSV export.
var CSVHeader = []string{"id", "organization", "report_id", "start", "end", "day", "policy_domain", "policy_type",
	"successful", "failed", "result_type", "sending_mta_ip", "receiving_mx_hostname", "receiving_ip",
	"failed_session_count", "failure_reason_code", "source", "dkim"}

// Export writes the reports f selects to w in format (ExportCSV or
// ExportJSON), oldest stored first, streaming: memory stays flat whatever
// the number of reports. CSV cells that a spreadsheet would run as a
// formula are neutralised (see CSVCell).
func (s *Store) Export(ctx context.Context, w io.Writer, f Filter, format string) error {
	var each func(*StoredReport) error
	var finish func() error
	switch format {
	case ExportJSON:
		n := 0
		each = func(r *StoredReport) error {
			sep := ",\n"
			if n == 0 {
				sep = "[\n"
			}
			n++
			var line bytes.Buffer
			if err := textout.WriteJSONLine(&line, ExportedReport{ID: r.ID, Received: r.Received, Source: r.Source, Origin: r.Origin, Mail: r.Mail, Report: r.Report}); err != nil {
				return err
			}
			_, err := fmt.Fprintf(w, "%s%s", sep, bytes.TrimSuffix(line.Bytes(), []byte("\n")))
			return err
		}
		finish = func() error {
			end := "\n]\n"
			if n == 0 {
				end = "[]\n"
			}
			_, err := io.WriteString(w, end)
			return err
		}
	case ExportCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(CSVHeader); err != nil {
			return err
		}
		each = func(r *StoredReport) error { return writeCSVRows(cw, r) }
		finish = func() error {
			cw.Flush()
			return cw.Error()
		}
	default:
		return fmt.Errorf("export format %q: want %s or %s", format, ExportCSV, ExportJSON)
	}
	if err := s.EachReport(ctx, f, each); err != nil {
		return err
	}
	return finish()
}

// CSVCell neutralises a cell that a spreadsheet would read as a formula
// (OWASP, CSV injection): one that starts with "=", "+", "-", "@", a tab
// or a carriage return gets a leading "'", which spreadsheets show as
// text. Reports are written by anyone who can POST or mail one.
func CSVCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// writeCSVRow writes one row of cells, each neutralised with CSVCell.
func writeCSVRow(cw *csv.Writer, row []string) error {
	cells := make([]string, len(row))
	for i, c := range row {
		cells[i] = CSVCell(c)
	}
	return cw.Write(cells)
}

// writeCSVRows writes the rows of one report.
func writeCSVRows(cw *csv.Writer, r *StoredReport) error {
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
