// Package ingest brings TLS reports (RFC 8460) into a reportstore.Store,
// by every way they travel:
//
//   - Handler answers the HTTPS POST of RFC 8460 §5.4 (a rua=https: URI):
//     an application/tlsrpt+gzip or application/tlsrpt+json body. Since
//     anyone may POST, it bounds the memory all requests hold at once
//     (bodies and decompression), the requests and rejected bodies of
//     each client, and the time a body may take (see HandlerOptions).
//   - Import reads files: .json and .json.gz reports, single mails (.eml),
//     mbox files and Maildir folders.
//   - IMAPPoller reads the mailbox a rua=mailto: address delivers to,
//     stores the reports and moves the mail it has stored to another
//     folder.
//   - NewSMTPServer accepts report mail (RFC 8460 §5.3) by SMTP or LMTP,
//     so that the rua address can point straight at mtasts.
//
// All of them go through an Ingester, which parses with package tlsrpt,
// checks the DKIM signatures of report mail (RFC 6376; RFC 8460 §5.3 asks
// reporting organisations to sign) and stores the result. What cannot be
// read as a report is kept in the store's quarantine with the reason,
// never dropped; an input is reported as stored only once its transaction
// has committed, and one that could not be stored (the database is down)
// is answered with a temporary error so that its sender, mailbox or file
// keeps it.
//
// DKIM is checked and recorded by default (DKIMCheck): a report mail
// counts whether or not it is signed. With DKIMRequire, a mail without a
// valid signature of the submitter's domain is quarantined instead;
// DKIMOff skips the check.
package ingest
