package reportstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mtasts/mtasts/tlsrpt"
)

// infoColumns are the columns of tlsrpt_report that make a ReportInfo,
// read by scanInfo.
const infoColumns = `r.id, r.organization, r.report_id, r.contact_info, r.start_time, r.end_time, r.day, r.domains,
	r.successful, r.failed, r.received_at, r.source, r.origin, r.duplicates, r.diag_count,
	r.from_mail, r.mail_domain, r.mail_submitter, r.mail_subject, r.message_id, r.dkim, r.dkim_domain`

func scanInfo(row interface{ Scan(...any) error }, extra ...any) (*ReportInfo, error) {
	var r ReportInfo
	var start, end, received int64
	var domains, source string
	var fromMail int
	var m MailInfo
	dest := append([]any{&r.ID, &r.Organization, &r.ReportID, &r.ContactInfo, &start, &end, &r.Day, &domains,
		&r.Successful, &r.Failed, &received, &source, &r.Origin, &r.Duplicates, &r.Diagnostics,
		&fromMail, &m.Domain, &m.Submitter, &m.Subject, &m.MessageID, &m.DKIM, &m.DKIMDomain}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	r.Start, r.End, r.Received = unixTime(start), unixTime(end), unixTime(received)
	r.Domains = strings.Split(domains, ",")
	if domains == "" {
		r.Domains = []string{}
	}
	r.Source = Source(source)
	if fromMail != 0 {
		r.Mail, r.DKIM = &m, m.DKIM
	}
	return &r, nil
}

func unixTime(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

// reportWhere builds the WHERE clause of a query on tlsrpt_report r.
func reportWhere(f Filter, failuresOnly bool, args *[]any) string {
	own := f
	own.Domain = ""
	cond := own.where("r.", args)
	switch {
	case f.Domain != "":
		byDomain := Filter{Domain: f.Domain}.where("", args)
		if failuresOnly {
			byDomain += " AND failed > 0"
		}
		cond += " AND r.id IN (SELECT report_ref FROM tlsrpt_policy WHERE " + byDomain + ")"
	case failuresOnly:
		cond += " AND r.failed > 0"
	}
	return cond
}

func pageLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultLimit
	case limit > MaxLimit:
		return MaxLimit
	}
	return limit
}

// ListReports returns a page of the reports o selects, the latest day
// first and, within a day, the latest stored first.
func (s *Store) ListReports(ctx context.Context, o ListOptions) (*ReportPage, error) {
	var args []any
	cond := reportWhere(o.Filter, o.FailuresOnly, &args)
	page := &ReportPage{Reports: []ReportInfo{}}
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM tlsrpt_report r WHERE `+cond, args...).Scan(&page.Total); err != nil {
		return nil, s.err("counting reports", err)
	}
	rows, err := s.rdb.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM tlsrpt_report r WHERE %s
		ORDER BY r.day DESC, r.id DESC LIMIT %d OFFSET %d`, infoColumns, cond, pageLimit(o.Limit), max(o.Offset, 0)), args...)
	if err != nil {
		return nil, s.err("listing reports", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanInfo(rows)
		if err != nil {
			return nil, s.err("listing reports", err)
		}
		page.Reports = append(page.Reports, *r)
	}
	return page, s.rowsErr("listing reports", rows)
}

// GetReport returns a stored report with its raw bytes, or an error
// matching ErrNotFound.
func (s *Store) GetReport(ctx context.Context, id int64) (*StoredReport, error) {
	reps, err := s.loadReports(ctx, []int64{id}, true)
	if err != nil {
		return nil, err
	}
	if len(reps) == 0 {
		return nil, fmt.Errorf("%w: report %d", ErrNotFound, id)
	}
	return reps[0], nil
}

// exportChunk is how many reports EachReport loads at a time.
const exportChunk = 500

// EachReport calls fn with every report f selects, oldest stored first,
// without the raw bytes, until fn returns an error, which EachReport then
// returns.
func (s *Store) EachReport(ctx context.Context, f Filter, fn func(*StoredReport) error) error {
	var last int64
	for {
		args := []any{}
		cond := reportWhere(f, false, &args)
		args = append(args, last)
		rows, err := s.rdb.QueryContext(ctx, fmt.Sprintf(`SELECT r.id FROM tlsrpt_report r WHERE %s AND r.id > $%d
			ORDER BY r.id LIMIT %d`, cond, len(args), exportChunk), args...)
		if err != nil {
			return s.err("exporting reports", err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return s.err("exporting reports", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := s.rowsErr("exporting reports", rows); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		reps, err := s.loadReports(ctx, ids, false)
		if err != nil {
			return err
		}
		for _, r := range reps {
			if err := fn(r); err != nil {
				return err
			}
		}
		last = ids[len(ids)-1]
	}
}

// idList returns "$n+1, …" for ids and appends them to args.
func idList(ids []int64, args *[]any) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		*args = append(*args, id)
		parts[i] = fmt.Sprintf("$%d", len(*args))
	}
	return strings.Join(parts, ", ")
}

// loadReports loads the reports with the given IDs, in that order,
// skipping IDs that do not exist. The Report of each is rebuilt from the
// stored rows.
func (s *Store) loadReports(ctx context.Context, ids []int64, withRaw bool) ([]*StoredReport, error) {
	const op = "loading reports"
	var args []any
	in := idList(ids, &args)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+infoColumns+`, r.diagnostics FROM tlsrpt_report r WHERE r.id IN (`+in+`)`, args...)
	if err != nil {
		return nil, s.err(op, err)
	}
	byID := map[int64]*StoredReport{}
	for rows.Next() {
		var diags string
		info, err := scanInfo(rows, &diags)
		if err != nil {
			rows.Close()
			return nil, s.err(op, err)
		}
		sr := &StoredReport{ReportInfo: *info, Report: &tlsrpt.Report{
			OrganizationName: info.Organization, ReportID: info.ReportID, ContactInfo: info.ContactInfo,
			DateRange: tlsrpt.DateRange{Start: info.Start, End: info.End},
		}}
		if err := json.Unmarshal([]byte(diags), &sr.Diagnostics); err != nil {
			rows.Close()
			return nil, s.err(op, fmt.Errorf("diagnostics of report %d: %w", info.ID, err))
		}
		byID[info.ID] = sr
	}
	rows.Close()
	if err := s.rowsErr(op, rows); err != nil {
		return nil, err
	}
	if err := s.loadPolicies(ctx, in, args, byID); err != nil {
		return nil, err
	}
	if err := s.loadFailures(ctx, in, args, byID); err != nil {
		return nil, err
	}
	if withRaw {
		if err := s.loadRaw(ctx, in, args, byID); err != nil {
			return nil, err
		}
	}
	out := make([]*StoredReport, 0, len(byID))
	for _, id := range ids {
		if sr, ok := byID[id]; ok {
			out = append(out, sr)
		}
	}
	return out, nil
}

func (s *Store) loadPolicies(ctx context.Context, in string, args []any, byID map[int64]*StoredReport) error {
	const op = "loading policies"
	rows, err := s.rdb.QueryContext(ctx, `SELECT report_ref, policy_type, policy_strings, mx_hosts, policy_domain, successful, failed
		FROM tlsrpt_policy WHERE report_ref IN (`+in+`) ORDER BY report_ref, idx`, args...)
	if err != nil {
		return s.err(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var ref int64
		var typ, strs, mx string
		var p tlsrpt.PolicyResult
		if err := rows.Scan(&ref, &typ, &strs, &mx, &p.Policy.Domain, &p.Summary.Successful, &p.Summary.Failed); err != nil {
			return s.err(op, err)
		}
		p.Policy.Type = tlsrpt.PolicyType(typ)
		if err := errors.Join(json.Unmarshal([]byte(strs), &p.Policy.Strings), json.Unmarshal([]byte(mx), &p.Policy.MXHosts)); err != nil {
			return s.err(op, err)
		}
		p.Policy.Strings = emptyNil(p.Policy.Strings)
		p.Policy.MXHosts = emptyNil(p.Policy.MXHosts)
		if sr := byID[ref]; sr != nil {
			sr.Report.Policies = append(sr.Report.Policies, p)
		}
	}
	return s.rowsErr(op, rows)
}

func (s *Store) loadFailures(ctx context.Context, in string, args []any, byID map[int64]*StoredReport) error {
	const op = "loading failure details"
	rows, err := s.rdb.QueryContext(ctx, `SELECT report_ref, policy_idx, result_type, sending_ip, mx_host, mx_helo, receiving_ip,
			failed_count, additional, reason_code
		FROM tlsrpt_failure WHERE report_ref IN (`+in+`) ORDER BY report_ref, policy_idx, idx`, args...)
	if err != nil {
		return s.err(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var ref int64
		var pi int
		var typ, sending, receiving string
		var f tlsrpt.FailureDetail
		if err := rows.Scan(&ref, &pi, &typ, &sending, &f.ReceivingMXHostname, &f.ReceivingMXHelo, &receiving,
			&f.FailedSessionCount, &f.AdditionalInformation, &f.FailureReasonCode); err != nil {
			return s.err(op, err)
		}
		f.ResultType = tlsrpt.ResultType(typ)
		f.SendingMTAIP, _ = netip.ParseAddr(sending)
		f.ReceivingIP, _ = netip.ParseAddr(receiving)
		if sr := byID[ref]; sr != nil && pi < len(sr.Report.Policies) {
			p := &sr.Report.Policies[pi]
			p.FailureDetails = append(p.FailureDetails, f)
		}
	}
	return s.rowsErr(op, rows)
}

func (s *Store) loadRaw(ctx context.Context, in string, args []any, byID map[int64]*StoredReport) error {
	rows, err := s.rdb.QueryContext(ctx, `SELECT report_ref, raw_type, data FROM tlsrpt_raw WHERE report_ref IN (`+in+`)`, args...)
	if err != nil {
		return s.err("loading raw reports", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ref int64
		var typ string
		var data []byte
		if err := rows.Scan(&ref, &typ, &data); err != nil {
			return s.err("loading raw reports", err)
		}
		if sr := byID[ref]; sr != nil {
			sr.RawType, sr.Raw = typ, data
		}
	}
	return s.rowsErr("loading raw reports", rows)
}

func emptyNil(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	return ss
}

const quarantineColumns = `id, received_at, source, origin, reason, size, raw_type, attempts`

func scanQuarantine(row interface{ Scan(...any) error }, extra ...any) (*QuarantineEntry, error) {
	var q QuarantineEntry
	var received int64
	var source string
	if err := row.Scan(append([]any{&q.ID, &received, &source, &q.Origin, &q.Reason, &q.Size, &q.RawType, &q.Attempts}, extra...)...); err != nil {
		return nil, err
	}
	q.Received, q.Source = unixTime(received), Source(source)
	return &q, nil
}

// ListQuarantine returns a page of the quarantine, latest first.
func (s *Store) ListQuarantine(ctx context.Context, o QuarantineOptions) (*QuarantinePage, error) {
	page := &QuarantinePage{Entries: []QuarantineEntry{}}
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM tlsrpt_quarantine`).Scan(&page.Total); err != nil {
		return nil, s.err("counting quarantine", err)
	}
	rows, err := s.rdb.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM tlsrpt_quarantine ORDER BY id DESC LIMIT %d OFFSET %d`,
		quarantineColumns, pageLimit(o.Limit), max(o.Offset, 0)))
	if err != nil {
		return nil, s.err("listing quarantine", err)
	}
	defer rows.Close()
	for rows.Next() {
		q, err := scanQuarantine(rows)
		if err != nil {
			return nil, s.err("listing quarantine", err)
		}
		page.Entries = append(page.Entries, *q)
	}
	return page, s.rowsErr("listing quarantine", rows)
}

// GetQuarantined returns a quarantine entry with its bytes, or an error
// matching ErrNotFound.
func (s *Store) GetQuarantined(ctx context.Context, id int64) (*QuarantineEntry, error) {
	var data []byte
	q, err := scanQuarantine(s.rdb.QueryRowContext(ctx, `SELECT `+quarantineColumns+`, data FROM tlsrpt_quarantine WHERE id = $1`, id), &data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("%w: quarantine entry %d", ErrNotFound, id)
	case err != nil:
		return nil, s.err("reading quarantine", err)
	}
	q.Raw = data
	return q, nil
}
