// Package tlsrptsend is the sending side of SMTP TLS Reporting (RFC
// 8460): it turns what a sending MTA saw into the daily reports that
// recipient domains ask for in their _smtp._tls TXT record, and delivers
// them.
//
// The parts, in the order data flows through them:
//
//   - Outcome is one SMTP session's TLS result for a policy domain: the
//     policy applied (RFC 8460 §4.4 "policy"), the MX host and its IP,
//     the sending MTA's IP, and success or a result type of §4.3. A
//     Source produces outcomes into a Recorder: PostfixLog reads them
//     from Postfix's log, DatagramSocket from the libtlsrpt datagrams of
//     Postfix 3.10, DeliverObserver from the deliver package's results;
//     the enforce service records its own failed policy fetches.
//   - PostfixParser reads the log lines of Postfix's smtp(8), for any
//     Postfix version, in syslog or journald format, and joins the TLS
//     lines of each session with the delivery status that follows
//     (by process and queue id). Follower follows a log file across
//     rotation; LogCollector does so for a daemon with its position
//     stored with the outcomes; PostfixLog also reads a stream such as
//     journalctl's output on stdin.
//   - Aggregator sums outcomes per UTC day (§4.1), policy domain and
//     policy into the summary counts and failure details of §4.4.
//   - Build makes the day's report for one policy domain, gzipped and
//     named per §5.1; tlsrpt.Parse reads every report it builds back
//     without a diagnostic.
//   - HTTPSDeliverer posts a report to an https: rua (§5.4) and retries it
//     with exponential backoff for 24 hours (§5.5), its progress in a
//     DeliveryState the caller persists so that a restart neither loses
//     nor repeats a delivery.
//   - ComposeMail writes the DKIM-signed multipart/report mail for a
//     mailto: rua (§5.3), with TLS-Required: No (RFC 8689) so that the
//     report reaches a domain whose TLS is broken. DirectMail sends it to
//     the rua domain's MX hosts with an opportunistic deliver.Sender;
//     Relay submits it to a relay host.
//   - StoreRecorder keeps outcomes in a reportstore.Store, summed per day,
//     domain and policy, so that several MTAs feed one reporter;
//     DeliverObserver turns the results of the deliver package into
//     outcomes for Go senders.
//   - Sender builds each day's reports from the store, looks up each
//     domain's _smtp._tls record (§3), queues one delivery per rua in the
//     store and makes them, under a lease in the store so that of several
//     senders sharing it one works at a time, each delivery's state
//     stored before and after every attempt. Scheduler runs it daily
//     after a random delay past midnight (§4.1), for a daemon; Config
//     is the daemon's [daemon.tlsrpt_send] section and the flags of
//     "mtasts tlsrpt send".
//
// The package does no I/O beyond the log, the store, the DNS client and
// the transports it is given; clocks, sleeps and HTTP clients are
// injected.
package tlsrptsend
