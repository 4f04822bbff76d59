// Package reportstore keeps the aggregate TLS reports of RFC 8460 that a
// domain receives, and answers the questions asked of them: which reports
// came in, how many sessions succeeded per domain and day, and where,
// why and from whom the failures came.
//
// A [Store] is opened by URL with [Open]:
//
//	sqlite:///var/lib/mtasts/reports.db  SQLite file (the default; no server needed)
//	sqlite:reports.db                    the same, relative to the working directory
//	postgres://user@host/db              PostgreSQL, for large collectors
//
// Both backends have the same schema, created and upgraded by numbered
// migrations when the store is opened, and answer the same queries.
//
// # What is stored
//
// A report is stored normalised, one row per report, per policy result
// (RFC 8460 §4.4 "policies") and per failure detail, together with the
// original bytes it arrived as (the JSON, the gzip or the whole mail),
// the deviations the parser tolerated, and where it came from. The
// columns the queries group by (policy domain, UTC day, organisation) are
// copied onto the policy and failure rows, so that summaries read one
// table. The transaction that stores reports also adds them to sums per
// policy domain and day (sessions, reports, the latest policy, the
// organisations that reported), from which the overview of all domains
// is read without a pass over every policy result of the period.
//
// Reports are identified by organisation, report-id and date range: a
// report that arrives again (by mail and by HTTPS, or imported twice) is
// recognised as a duplicate and counted once. A report is accepted only
// once its transaction has committed; [Store.Add] returns after that. Input
// that cannot be read as a report is not dropped: it is kept, byte for
// byte, in a quarantine with the reason, and listed by
// [Store.ListQuarantine].
//
// [Store.DeleteReport] removes a report and counts the sums of its days
// again from the reports that remain. Sums of session counts saturate at
// the largest int64 rather than fail: tlsrpt.Parse refuses counts over
// tlsrpt.MaxSessionCount, but a report stored before it did, or built in
// Go, may hold any count.
//
// # The reports we send
//
// The store also serves the sending side of RFC 8460 (package
// tlsrptsend): the TLS outcomes of our own MTAs, summed per UTC day,
// policy domain and policy as they are added ([Store.AddOutcomes]), so
// that several MTAs feed one reporter; the days whose reports are built
// ([Store.MarkDayBuilt]); one queued delivery per report and rua URI,
// with the report's bytes and the sender's delivery state
// ([Store.Enqueue], [Store.UpdateQueued]); a lease that lets one of
// several senders sharing the store work at a time, taken over by another
// once it expires ([Store.AcquireLease]); and the suppression list of
// domains and rua URIs that get no report ([Store.Suppress],
// [Store.CountFailure]).
//
// # Days
//
// RFC 8460 §4.1 asks for one report per policy domain and UTC day. A
// report counts for the UTC day its date range starts in, which is its day
// whatever end time the sender wrote (23:59:59 or midnight of the next
// day); the rare report covering several days counts entirely for its
// first.
package reportstore
