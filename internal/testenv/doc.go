// Package testenv groups the harnesses that tests share: testworld (a fake
// internet on loopback: DNS, a private CA, HTTPS policy hosts, ESMTP
// servers), testservers (real Redis, PostgreSQL and Dovecot instances),
// testpostfix (private real Postfix instances) and testclock (a settable
// clock); the package itself holds the small helpers of service tests
// (Buffer, CheckMetrics). Nothing outside tests imports them.
package testenv
