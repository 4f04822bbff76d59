package reportstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mtasts/mtasts/tlsrpt"
)

// Source says how a report arrived.
type Source string

// Sources of reports.
const (
	SourceHTTPS Source = "https" // POSTed to the endpoint of RFC 8460 §5.4
	SourceFile  Source = "file"  // imported from a file, mbox or Maildir
	SourceIMAP  Source = "imap"  // fetched from a mailbox
	SourceSMTP  Source = "smtp"  // delivered by SMTP or LMTP (RFC 8460 §5.3)
)

// DKIMStatus is the result of checking the DKIM signatures of a report
// mail (RFC 6376 §3.9 results).
type DKIMStatus string

// DKIM results.
const (
	DKIMPass      DKIMStatus = "pass"      // a valid signature by a domain aligned with the submitter
	DKIMForeign   DKIMStatus = "foreign"   // valid signatures, none by the submitter's domain
	DKIMFail      DKIMStatus = "fail"      // signatures, none valid
	DKIMNone      DKIMStatus = "none"      // not signed
	DKIMTempError DKIMStatus = "temperror" // the key could not be fetched
	DKIMSkipped   DKIMStatus = "skipped"   // not checked
)

// MailInfo is what a report mail said about its report (RFC 8460 §5.3).
type MailInfo struct {
	Domain    string     `json:"domain,omitempty"`    // TLS-Report-Domain
	Submitter string     `json:"submitter,omitempty"` // TLS-Report-Submitter
	Subject   string     `json:"subject,omitempty"`
	MessageID string     `json:"message_id,omitempty"`
	DKIM      DKIMStatus `json:"dkim"`
	// DKIMDomain is the d= of the signature that decided DKIM.
	DKIMDomain string `json:"dkim_domain,omitempty"`
}

// Submission is one input to store: a parsed report, or input that could
// not be read as one.
type Submission struct {
	// Report is the parsed report; nil puts Raw into quarantine with
	// Reason.
	Report      *tlsrpt.Report
	Reason      string
	Diagnostics []tlsrpt.Diagnostic
	// Raw is the input as received and RawType what it is (see
	// StoredReport).
	Raw     []byte
	RawType string
	Source  Source
	// Origin says where the input came from, for people: a file name, a
	// remote address, a mailbox and UID.
	Origin string
	// Mail is set for reports that came by mail.
	Mail *MailInfo
	// Garbage marks input that does not even look like a report: in
	// quarantine only its first QuarantineLimits.Prefix bytes are kept,
	// and it is evicted before other entries (see QuarantineLimits).
	Garbage bool
	// Received is when the input arrived; zero means now.
	Received time.Time
}

// Outcome is what became of a Submission.
type Outcome string

// Outcomes of Add.
const (
	Accepted    Outcome = "accepted"    // stored as a new report
	Duplicate   Outcome = "duplicate"   // the report was already stored
	Quarantined Outcome = "quarantined" // kept in quarantine, not counted
)

// Result is the outcome of storing one Submission.
type Result struct {
	Outcome Outcome `json:"outcome"`
	// ID is the report's ID (Accepted, Duplicate) or the quarantine
	// entry's (Quarantined).
	ID int64 `json:"id"`
	// Reason says why input was quarantined.
	Reason string `json:"reason,omitempty"`
	// Evicted counts the quarantine entries removed to make room for
	// this one (see QuarantineLimits).
	Evicted int `json:"evicted,omitempty"`
	// Err, in results of AddBatch, is why nothing was stored for this
	// submission; Outcome is then "".
	Err error `json:"-"`
}

// Add stores one submission and returns once it is committed. A report
// whose organisation, report-id and date range match a stored one is a
// Duplicate and changes nothing but a counter. A submission without
// Report, and a report the database refuses (such as one too large for
// it), goes to quarantine. An error means nothing was stored.
func (s *Store) Add(ctx context.Context, sub *Submission) (Result, error) {
	results := s.AddBatch(ctx, []*Submission{sub})
	return results[0], results[0].Err
}

// AddBatch stores submissions in one transaction, which is much faster
// than one at a time. If that transaction fails, each submission is
// stored on its own, so that one bad submission costs no other: the
// result of each says what became of it.
func (s *Store) AddBatch(ctx context.Context, subs []*Submission) []Result {
	results := make([]Result, len(subs))
	// Statements run without cancellation, which costs the SQLite driver
	// a goroutine each; the batch stops between reports when ctx ends.
	sctx := context.WithoutCancel(ctx)
	err := s.inTx(ctx, "adding reports", func(tx *writeTx) error {
		for i, sub := range subs {
			if err := ctx.Err(); err != nil {
				return err
			}
			r, err := s.add(sctx, tx, sub)
			if err != nil {
				return err
			}
			results[i] = r
		}
		return nil
	})
	if err == nil {
		return results
	}
	if len(subs) == 1 {
		return []Result{s.addAlone(ctx, subs[0], err)}
	}
	for i, sub := range subs {
		results[i] = s.addAlone(ctx, sub, nil)
	}
	return results
}

// addAlone stores one submission in its own transaction; if storing the
// report fails and the database still answers, the input goes to
// quarantine with the error as reason. prevErr is the error of an attempt
// already made, if any.
func (s *Store) addAlone(ctx context.Context, sub *Submission, prevErr error) Result {
	err := prevErr
	var res Result
	if err == nil {
		err = s.inTx(ctx, "adding report", func(tx *writeTx) error {
			var err error
			res, err = s.add(ctx, tx, sub)
			return err
		})
		if err == nil {
			return res
		}
	}
	if sub.Report == nil || ctx.Err() != nil {
		return Result{Err: err}
	}
	q := *sub
	q.Report, q.Reason = nil, "the database refused the report: "+err.Error()
	qerr := s.inTx(ctx, "quarantining report", func(tx *writeTx) error {
		var err error
		res, err = s.add(ctx, tx, &q)
		return err
	})
	if qerr != nil {
		return Result{Err: err}
	}
	return res
}

// add stores sub within tx.
func (s *Store) add(ctx context.Context, tx *writeTx, sub *Submission) (Result, error) {
	received := sub.Received
	if received.IsZero() {
		received = s.now()
	}
	if sub.Report == nil {
		return s.quarantine(ctx, tx, sub, received)
	}
	rep := sub.Report
	mail := sub.Mail
	fromMail := 1
	if mail == nil {
		mail, fromMail = &MailInfo{}, 0
	}
	diags, err := json.Marshal(nonNil(sub.Diagnostics))
	if err != nil {
		return Result{}, err
	}
	totals := rep.Totals()
	id, err := tx.queryID(ctx, `INSERT INTO tlsrpt_report (organization, report_id, contact_info, start_time, end_time,
			day, domains, successful, failed, received_at, source, origin, mail_domain, mail_submitter, mail_subject,
			message_id, dkim, dkim_domain, from_mail, diagnostics, diag_count)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
		ON CONFLICT (organization, report_id, start_time, end_time) DO NOTHING RETURNING id`,
		text(rep.OrganizationName), text(rep.ReportID), text(rep.ContactInfo),
		rep.DateRange.Start.Unix(), rep.DateRange.End.Unix(), dayOf(rep.DateRange.Start),
		strings.Join(reportDomains(rep, mail), ","), totals.Successful, totals.Failed,
		received.Unix(), string(sub.Source), text(sub.Origin), text(normDomain(mail.Domain)), text(normDomain(mail.Submitter)),
		text(mail.Subject), text(mail.MessageID), string(mail.DKIM), text(normDomain(mail.DKIMDomain)),
		fromMail, text(string(diags)), len(sub.Diagnostics))
	if errors.Is(err, sql.ErrNoRows) {
		// RFC 8460 §4.4: report-id is unique per sender; the same report
		// arrived before.
		id, err = tx.queryID(ctx, `UPDATE tlsrpt_report SET duplicates = duplicates + 1
			WHERE organization = $1 AND report_id = $2 AND start_time = $3 AND end_time = $4 RETURNING id`,
			text(rep.OrganizationName), text(rep.ReportID), rep.DateRange.Start.Unix(), rep.DateRange.End.Unix())
		if err != nil {
			return Result{}, s.err("counting duplicate", err)
		}
		return Result{Outcome: Duplicate, ID: id}, nil
	}
	if err != nil {
		return Result{}, s.err("inserting report", err)
	}
	if err := tx.exec(ctx, `INSERT INTO tlsrpt_raw (report_ref, raw_type, data) VALUES ($1, $2, $3)`,
		id, sub.RawType, nonNil(sub.Raw)); err != nil {
		return Result{}, s.err("inserting raw report", err)
	}
	if err := s.insertDetails(ctx, tx, id, rep, mail); err != nil {
		return Result{}, err
	}
	return Result{Outcome: Accepted, ID: id}, nil
}

const (
	policyCols  = 11
	failureCols = 14
)

// insertDetails inserts the policy and failure rows of report id.
func (s *Store) insertDetails(ctx context.Context, tx *writeTx, id int64, rep *tlsrpt.Report, mail *MailInfo) error {
	org, day := text(rep.OrganizationName), dayOf(rep.DateRange.Start)
	var policies, failures [][]any
	sums := make([]policyRow, len(rep.Policies))
	for i, p := range rep.Policies {
		domain := policyDomain(p.Policy.Domain, mail)
		strs, err := json.Marshal(nonNil(textAll(p.Policy.Strings)))
		if err != nil {
			return err
		}
		mx, err := json.Marshal(nonNil(textAll(p.Policy.MXHosts)))
		if err != nil {
			return err
		}
		sums[i] = policyRow{ref: id, idx: i, org: org, day: day, domain: domain, policyType: text(string(p.Policy.Type)),
			mode: policyMode(p.Policy), successful: p.Summary.Successful, failed: p.Summary.Failed}
		policies = append(policies, []any{id, i, org, day, domain, sums[i].policyType, string(strs), string(mx),
			sums[i].mode, p.Summary.Successful, p.Summary.Failed})
		for j, f := range p.FailureDetails {
			failures = append(failures, []any{id, i, j, org, day, domain, text(string(f.ResultType)), addr(f.SendingMTAIP),
				text(normDomain(f.ReceivingMXHostname)), text(f.ReceivingMXHelo), addr(f.ReceivingIP), f.FailedSessionCount,
				text(f.AdditionalInformation), text(f.FailureReasonCode)})
		}
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO tlsrpt_policy (report_ref, idx, organization, day, policy_domain, policy_type,
		policy_strings, mx_hosts, mode, successful, failed) VALUES `, "", policyCols, policies); err != nil {
		return s.err("inserting policies", err)
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO tlsrpt_failure (report_ref, policy_idx, idx, organization, day, policy_domain,
		result_type, sending_ip, mx_host, mx_helo, receiving_ip, failed_count, additional, reason_code) VALUES `, "", failureCols, failures); err != nil {
		return s.err("inserting failure details", err)
	}
	tx.rollup().addReport(sums)
	return nil
}

// maxRowsPerInsert bounds the rows of one multi-row INSERT, and so the
// number of statements prepared for each table.
const maxRowsPerInsert = 32

// insertRows inserts rows of cols values each with multi-row INSERTs
// between prefix and suffix (see rowsStmt).
func (s *Store) insertRows(ctx context.Context, tx *writeTx, prefix, suffix string, cols int, rows [][]any) error {
	per := min(maxRowsPerInsert, s.dia.maxParams/cols)
	args := make([]any, 0, min(len(rows), per)*cols)
	for len(rows) > 0 {
		n := min(len(rows), per)
		st, err := tx.rowsStmt(ctx, prefix, suffix, cols, n)
		if err != nil {
			return err
		}
		args = args[:0]
		for _, row := range rows[:n] {
			args = append(args, row...)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// reportDomains lists the policy domains of rep, each once, in order.
func reportDomains(rep *tlsrpt.Report, mail *MailInfo) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range rep.Policies {
		d := policyDomain(p.Policy.Domain, mail)
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// policyDomain is the domain a policy result is filed under: its
// policy-domain, else the TLS-Report-Domain of the mail (senders leave
// policy-domain out of no-policy-found results).
func policyDomain(d string, mail *MailInfo) string {
	if d = normDomain(d); d == "" && mail != nil {
		d = normDomain(mail.Domain)
	}
	return text(d)
}

// policyMode returns the mode of an MTA-STS policy-string (RFC 8461 §3.2),
// or "".
func policyMode(p tlsrpt.Policy) string {
	if p.Type != tlsrpt.PolicySTS {
		return ""
	}
	for _, line := range p.Strings {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "mode" {
			return text(strings.TrimSpace(v))
		}
	}
	return ""
}

// text makes s storable in both databases: valid UTF-8 without NUL, which
// PostgreSQL refuses in text.
func text(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func textAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = text(s)
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// addr formats an address for storage; "" when the sender gave none.
func addr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
