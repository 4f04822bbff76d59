// Package rollout takes a served MTA-STS policy (RFC 8461) from mode
// testing to enforce on evidence, and back in an emergency.
//
// The evidence is what the domain's TLS reports (RFC 8460) of a window
// (default 14 days) say, read from the report store, plus a fresh check of
// the domain (package check): sessions and failures per reporting
// organisation, per result type and per receiving MX host; MX hosts of the
// policy no sender was seen delivering through; live MX hosts the served
// policy does not cover (RFC 8461 §4.1); live MX hosts that fail
// validation now (§4.2). [Gather] collects it into an [Evidence];
// [Evaluate], which does no I/O, judges it by [Thresholds] into a
// [Verdict]: [Ready], [NotReady] with each blocking [Reason] (a stable
// [Code], the MX host, result type or organisation, the numbers and the
// fix), or [InsufficientData] when too few organisations, sessions or days
// were reported.
//
// # Changing the mode
//
// [SetMode] changes the mode of a served domain. The policy a domain is
// served with is the one its [[domain]] section of mtasts.toml describes;
// package policyhost renders it and gives it a new id (kept in the data
// directory's state file) whenever its text changes. SetMode therefore
// rewrites the mode key of that one section in place, leaving every other
// byte of the file (comments, order, other sections) as it was, and
// checks that the new file reads back as the old one with only the mode
// changed before it replaces the old file atomically. The file stays the
// one place that says what is served: an override kept elsewhere would
// be undone, or would silently contradict the file, the next time
// someone edits it. policyhost needs no change: a running "mtasts serve"
// loads the changed file (it watches it, and on SIGHUP) and assigns the
// new id then; when no serve holds the data directory, SetMode assigns
// and saves the id itself, as serve would, so that the record to publish
// is known at once.
//
// Demoting to mode none follows RFC 8461 §8.3: the policy stays served,
// with mode none and a new id, so that senders holding the old policy
// fetch the new one and stop enforcing; the policy host and records may
// be removed only once the old max_age has passed ([Change.RemovableAt]).
//
// Every change is recorded in the store's audit log with the actor, the
// policies before and after and the verdict with its evidence.
package rollout
