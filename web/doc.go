// Package web is the TLS-RPT dashboard: web pages that show what the
// aggregate TLS reports of RFC 8460 kept in a [reportstore.Store] say
// about the mail domains they cover.
//
// [New] returns an http.Handler, meant to be mounted on the HTTPS server
// of "mtasts serve" under a base path such as "/dashboard/". Its pages:
//
//   - the overview: every policy domain that received reports in a
//     period, with its success rate, a trend sparkline and the mode of
//     its MTA-STS policy, and the result types that fail most;
//   - a domain page: a daily chart of successful and failed sessions and
//     of the failure rate, and the failures broken down by result type
//     (RFC 8460 §4.3, each explained with what to fix), sending
//     organisation, MX host, receiving and sending IP and reason code;
//   - the list of reports, filtered by domain, organisation, period and
//     failures, each report as stored and its raw bytes as received,
//     with a form that deletes it;
//   - the quarantine of input that could not be read as a report.
//
// Pages are rendered on the server with html/template, charts as inline
// SVG; the style sheet is embedded, so the dashboard needs no JavaScript
// and no network access beyond its own server.
//
// # Authentication
//
// Nothing is served without authentication; only the style sheet and the
// login form are public. People sign in with a user name and a password,
// checked against a bcrypt hash from the configuration, or with an access
// token in place of the password; they then hold a session cookie
// (HttpOnly, SameSite=Strict, Secure over TLS) signed with a key of the
// dashboard and bound to the credential that opened it, so that changing
// a password or a token ends its sessions. Scripts send a token in an
// "Authorization: Bearer" header instead. Logging in and out are POST
// forms protected against cross-site requests by the browser's
// Sec-Fetch-Site/Origin headers and by a token in the form; so is the
// form that deletes a report.
//
// There are no roles: every user and token configured may see every
// report and delete any of them.
//
// A login counts against [LoginLimits], per client and per user name,
// before its password is checked, so that a burst of guesses checks no
// more than the limit; password checks run a few at a time. Signing out
// is recorded in the report store, so that the session stays refused
// after a restart and by every process over the same store and key.
//
// The handler never answers with a redirect (the policy hosts of
// "mtasts serve" refuse them, RFC 8461 §3.3): a request without a session
// gets the login form in place, with status 401, and a successful login
// leads on to the page asked for with a meta refresh.
package web
