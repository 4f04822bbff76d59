// Package monitor watches the domains "mtasts serve" publishes MTA-STS
// policies for (RFC 8461) and alerts when something breaks.
//
// Each interval (default hourly, the checks spread evenly over it) every
// served domain is checked with package check, and its TLS reports (RFC
// 8460) are read from the report store. [Judge], which does no I/O, turns
// what was seen into [Condition]s: the policy host's or an MX host's
// certificate expiring (warning 14 days ahead, critical 3), a live MX
// host the served policy does not cover (§4.1), the _mta-sts record
// missing or publishing another id than the policy served (§3.1), the
// policy fetch failing (§3.3), the _smtp._tls record missing or invalid
// (RFC 8460 §3), the reports' failure rate above a threshold or a result
// type new in them, and a domain left in mode testing whose readiness
// verdict (package rollout) has been ready for a while.
//
// A condition alerts once when it starts and once when it ends, never
// once per check: the open conditions and the alert history live in the
// report store, so a restart repeats nothing, and each alert records the
// channels (mail, webhooks, Alertmanager) it is still to be delivered to,
// so a channel that was down gets it later. When several servers share
// one PostgreSQL store, the one holding the store's "monitor" lease
// watches; another takes over within the lease time (a minute, or the
// interval if shorter, but at least five seconds) after it dies.
package monitor
