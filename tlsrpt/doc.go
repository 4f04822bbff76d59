// Package tlsrpt implements SMTP TLS Reporting (TLSRPT, RFC 8460).
//
// A domain that wants to hear about failed TLS deliveries publishes a TXT
// record at _smtp._tls.<domain> such as
//
//	v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://reports.example.com/v1
//
// (RFC 8460 §3). Sending MTAs then count, per policy domain and UTC day,
// the sessions that succeeded and those that failed under its MTA-STS or
// DANE policy, and deliver a JSON report (§4) to each rua destination, by
// mail as a gzipped attachment of a multipart/report message (§5.3) or by
// HTTPS POST (§5.4).
//
// The package holds those objects and does no I/O of its own:
//
//   - Record, ParseRecord and SelectRecord read the TXT record; Record.String
//     writes it.
//   - Report is a report in Go terms. Parse reads one, plain or gzipped,
//     tolerating what real senders emit and describing each deviation as a
//     Diagnostic, but refusing session counts over MaxSessionCount (10^12),
//     which no sender makes; Summary.Add sums counts without overflow; Render and RenderGzip write one in the RFC's wire format;
//     FilenameFor and ParseFilename handle its file name (§5.1).
//   - ParseMessage finds and parses the report in a mail.
//
// Errors are grouped by stage (ErrNoRecord, ErrRecordSyntax,
// ErrReportSyntax, ErrReportTooLarge, ErrNoReport) for errors.Is, with
// *RecordSyntaxError and *ReportError for details.
package tlsrpt
