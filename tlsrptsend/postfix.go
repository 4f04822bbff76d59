package tlsrptsend

import (
	"bytes"
	"net/netip"
	"strings"
	"time"

	"github.com/mtasts/mtasts/tlsrpt"
)

// PolicyLookup tells which policy a sender applied to a policy domain at a
// given time: what the enforce service answered Postfix then. ok is false
// when the domain had no policy (RFC 8460 §4.4 "no-policy-found").
type PolicyLookup interface {
	PolicyAt(domain string, at time.Time) (p tlsrpt.Policy, ok bool)
}

// PostfixParser turns the log lines of Postfix's smtp(8) client into
// Outcomes, one per SMTP session with an MX host, for any Postfix version
// that logs TLS at smtp_tls_loglevel 1 or more.
//
// Postfix logs a session in several lines of the same smtp(8) process:
// the certificate verification failure ("certificate verification failed
// for mx.example.com[192.0.2.1]:25: certificate has expired"), the TLS
// summary ("Untrusted TLS connection established to ..."), a TLS
// handshake error ("SSL_connect error to ..."), and then either the
// delivery status of the message ("4DE5F9858B3: to=<bob@example.com>,
// relay=mx.example.com[192.0.2.1]:25, ..., status=deferred (Server
// certificate not verified)") or, when another MX host is tried next, the
// reason alone ("4DE5F9858B3: Server certificate not verified"). The
// parser follows each process, joins the session lines by queue id and
// takes the policy domain from the recipient of the status line (Postfix
// groups the recipients of one delivery by next-hop domain).
//
// The result under an sts policy (RFC 8460 §4.3.1): a Verified session
// succeeded; a failed verification names its result type
// (certificate-expired, certificate-host-mismatch,
// certificate-not-trusted, else validation-failure); STARTTLS not offered
// or refused, and a session without TLS, are starttls-not-supported; a
// failed TLS handshake is validation-failure. A Trusted session (chain
// verified, names not checked because the TLS level does not ask for it)
// counts as a success, since Postfix did not check the name, unless
// Postfix then refused it as "Server certificate not verified": that is
// a name mismatch, which Postfix before 3.6 logs no other way. Under
// no-policy-found every session is a success: there is no policy to fail.
//
// It needs smtp_tls_loglevel 1 or more (without TLS lines, a verified
// session looks like one without TLS), and TLS done by smtp(8) itself:
// with smtp_tls_connection_reuse = yes, tlsproxy(8) logs the TLS lines
// under its own process, and they are not joined.
//
// Lines it does not use are counted in Stats, never reported. A
// PostfixParser is not safe for concurrent use.
type PostfixParser struct {
	// Policies gives the policy applied to each domain; nil means no
	// domain has one.
	Policies PolicyLookup
	// SendingIP is the address of the sending MTA ("sending-mta-ip").
	SendingIP netip.Addr

	clock syslogClock
	procs map[string]*procState
	// untrusted remembers the last verification failure per server, for
	// sessions resumed from the TLS session cache, which Postfix logs as
	// "re-using session with untrusted peer credential".
	untrusted map[string]verifyFailure
	stats     PostfixStats
	mark      int64 // of the line being parsed (ParseAt)
}

// PostfixStats counts what a PostfixParser saw.
type PostfixStats struct {
	Lines     int64 // lines read
	NotSyslog int64 // lines that are not in a known log format
	Unrelated int64 // log lines that are not about smtp(8) TLS sessions
	Malformed int64 // lines of the kinds the parser reads, but not as Postfix writes them
	Sessions  int64 // outcomes produced
	Orphaned  int64 // session lines never followed by a delivery status
}

// NewPostfixParser returns a parser that reads traditional syslog
// timestamps in loc (nil: time.Local) with now giving the year (nil:
// time.Now).
func NewPostfixParser(policies PolicyLookup, sendingIP netip.Addr, loc *time.Location, now func() time.Time) *PostfixParser {
	if loc == nil {
		loc = time.Local
	}
	if now == nil {
		now = time.Now
	}
	return &PostfixParser{
		Policies:  policies,
		SendingIP: sendingIP,
		clock:     syslogClock{loc: loc, now: now},
		procs:     map[string]*procState{},
		untrusted: map[string]verifyFailure{},
	}
}

// Stats returns the counts so far.
func (p *PostfixParser) Stats() PostfixStats { return p.stats }

// tlsState is the kind of TLS session Postfix logged (tls_log_summary).
type tlsState uint8

const (
	tlsNone tlsState = iota
	tlsAnonymous
	tlsUntrusted
	tlsTrusted
	tlsVerified
)

// verifyFailure is a certificate verification failure mapped to RFC 8460
// §4.3.1.
type verifyFailure struct {
	result tlsrpt.ResultType
	reason string // Postfix's words
}

// session is one SMTP session of an smtp(8) process with one server.
type session struct {
	time      time.Time
	host      string
	ip        netip.Addr
	tls       tlsState
	fail      *verifyFailure
	handshake string // the SSL_connect error, if the handshake failed
	noTLS     string // why the session went without TLS (STARTTLS not offered or refused)
	// notVerified is set when Postfix ended the session with "Server
	// certificate not verified": the level asked for a verified name.
	notVerified bool
	qid         string
	mark        int64 // the mark of the session's first line (ParseAt)
}

// procState follows one smtp(8) process: its open session and the
// sessions that ended before the delivery status of their message.
type procState struct {
	cur     *session
	ended   []session
	doneQID string    // queue id whose sessions were reported last
	seen    time.Time // time of the process's last line
}

// Parse reads one log line and records the outcomes it completes.
func (p *PostfixParser) Parse(line []byte, rec Recorder) {
	p.ParseAt(line, 0, rec)
}

// ParseAt is Parse of a line that the caller marks, with its position in
// the log: OldestOpen returns the mark of the first line of the oldest
// session still open, where a reader that restarts begins again.
func (p *PostfixParser) ParseAt(line []byte, mark int64, rec Recorder) {
	p.mark = mark
	p.stats.Lines++
	line = bytes.TrimRight(line, "\r\n")
	l, ok := p.clock.parseSyslogLine(line)
	if !ok {
		p.stats.NotSyslog++
		return
	}
	if !isSMTPClient(l.prog) {
		p.stats.Unrelated++
		return
	}
	key := l.proc
	if ps := p.procs[string(key)]; ps != nil {
		ps.seen = l.time
	}
	msg := l.msg
	switch {
	case hasTLSSummaryPrefix(msg):
		p.tlsSummary(key, l.time, msg)
	case bytes.Contains(msg, []byte("certificate verification failed for ")):
		p.verifyFailed(key, l.time, msg)
	case bytes.HasPrefix(msg, []byte("SSL_connect error to ")):
		p.handshakeFailed(key, l.time, msg)
	case bytes.Contains(msg, []byte(": re-using session with untrusted ")):
		p.reusedUntrusted(key, l.time, msg)
	default:
		qid, rest, ok := queueID(msg)
		if !ok {
			p.stats.Unrelated++
			return
		}
		if bytes.HasPrefix(rest, []byte("to=<")) {
			p.status(key, l.time, qid, rest, rec)
		} else {
			p.sessionEnd(key, l.time, qid, rest)
		}
	}
}

// tlsSummary reads "Verified TLS connection established to
// mx.example.com[192.0.2.1]:25: TLSv1.3 with cipher ..." (Postfix
// tls_log_summary; "reused" for a cached connection).
func (p *PostfixParser) tlsSummary(key []byte, t time.Time, msg []byte) {
	var state tlsState
	for _, s := range tlsStates {
		if rest, ok := bytes.CutPrefix(msg, []byte(s.prefix)); ok {
			state, msg = s.state, rest
			break
		}
	}
	rest, ok := bytes.CutPrefix(msg, []byte("established to "))
	if !ok {
		rest, ok = bytes.CutPrefix(msg, []byte("reused to "))
	}
	if state == tlsNone || !ok {
		p.stats.Malformed++
		return
	}
	host, ip, _, ok := namaddr(rest)
	if !ok {
		p.stats.Malformed++
		return
	}
	s := p.session(key, t, host, ip)
	s.tls = state
	if state != tlsVerified && s.fail == nil {
		if f, ok := p.untrusted[host+"["+ip.String()+"]"]; ok {
			s.fail = &f
		}
	}
}

// verifyFailed reads "[server |CA ]certificate verification failed for
// NAMADDR: REASON" (Postfix tls_log_verify_error).
func (p *PostfixParser) verifyFailed(key []byte, t time.Time, msg []byte) {
	i := bytes.Index(msg, []byte("certificate verification failed for "))
	host, ip, reason, ok := namaddr(msg[i+len("certificate verification failed for "):])
	if !ok {
		p.stats.Malformed++
		return
	}
	f := classifyVerifyFailure(reason)
	s := p.session(key, t, host, ip)
	s.fail = &f
	if len(p.untrusted) >= 10000 {
		clear(p.untrusted)
	}
	p.untrusted[host+"["+ip.String()+"]"] = f
}

// handshakeFailed reads "SSL_connect error to NAMADDR: DETAIL" (Postfix
// tls_client_start).
func (p *PostfixParser) handshakeFailed(key []byte, t time.Time, msg []byte) {
	host, ip, detail, ok := namaddr(msg[len("SSL_connect error to "):])
	if !ok {
		p.stats.Malformed++
		return
	}
	s := p.session(key, t, host, ip)
	s.handshake = "TLS handshake failed: " + detail
}

// reusedUntrusted reads "NAMADDR: re-using session with untrusted peer
// credential, look for details earlier in the log".
func (p *PostfixParser) reusedUntrusted(key []byte, t time.Time, msg []byte) {
	host, ip, _, ok := namaddr(msg)
	if !ok {
		p.stats.Malformed++
		return
	}
	s := p.session(key, t, host, ip)
	if f, ok := p.untrusted[host+"["+ip.String()+"]"]; ok && s.fail == nil {
		s.fail = &f
	}
}

// session returns the open session of process key with host[ip],
// opening it, and setting aside a session with another server, first.
func (p *PostfixParser) session(key []byte, t time.Time, host string, ip netip.Addr) *session {
	ps := p.procs[string(key)]
	if ps == nil {
		ps = &procState{seen: t}
		p.procs[string(key)] = ps
	}
	if ps.cur != nil && (ps.cur.ip != ip || !strings.EqualFold(ps.cur.host, host)) {
		// A new server without a line ending the last session: that
		// one was a plaintext fallback or ended without a reason.
		ps.ended = append(ps.ended, *ps.cur)
		ps.cur = nil
	}
	if ps.cur == nil {
		ps.cur = &session{time: t, host: host, ip: ip, mark: p.mark}
	}
	return ps.cur
}

// serverNotVerified is the reason Postfix gives when the server's
// certificate did not pass the checks the TLS level asks for
// (smtp_proto.c).
const serverNotVerified = "Server certificate not verified"

// sessionEnd reads "QUEUEID: REASON", which Postfix logs when a session
// fails and another server will be tried (smtp_bulk_fail). With no
// session open, only a reason about STARTTLS makes one.
func (p *PostfixParser) sessionEnd(key []byte, t time.Time, qid string, reason []byte) {
	ps := p.procs[string(key)]
	if ps == nil || ps.cur == nil {
		s, ok := starttlsFailure(t, p.mark, reason)
		if !ok {
			p.stats.Unrelated++
			return
		}
		if ps == nil {
			ps = &procState{seen: t}
			p.procs[string(key)] = ps
		}
		ps.cur = &s
	}
	ps.cur.qid = qid
	ps.cur.notVerified = string(reason) == serverNotVerified
	ps.ended = append(ps.ended, *ps.cur)
	ps.cur = nil
}

// starttlsFailure makes the session of a reason Postfix gives when a
// server does not do TLS although the policy requires it
// (smtp_proto.c): "TLS is required, but was not offered by host NAMADDR"
// or "TLS is required, but host NAMADDR refused to start TLS: REPLY".
func starttlsFailure(t time.Time, mark int64, reason []byte) (session, bool) {
	for _, prefix := range []string{"TLS is required, but was not offered by host ", "TLS is required, but host "} {
		rest, ok := bytes.CutPrefix(reason, []byte(prefix))
		if !ok {
			continue
		}
		host, ip, _, ok := namaddr(rest)
		if !ok {
			return session{}, false
		}
		return session{time: t, host: host, ip: ip, noTLS: string(reason), mark: mark}, true
	}
	return session{}, false
}

// status reads a delivery status line, "QUEUEID: to=<rcpt>, ...,
// relay=NAMADDR, ..., status=S (REASON)", which ends the open session and
// reports the sessions of that queue id.
func (p *PostfixParser) status(key []byte, t time.Time, qid string, rest []byte, rec Recorder) {
	rcpt, ok := field(rest, "to=<", ">")
	relay, ok2 := field(rest, " relay=", ",")
	status, ok3 := field(rest, " status=", " ")
	if !ok || !ok2 || !ok3 {
		p.stats.Malformed++
		return
	}
	at := strings.LastIndexByte(rcpt, '@')
	if at < 0 {
		p.stats.Unrelated++ // a local recipient: no policy domain
		return
	}
	domain := normalDomain(rcpt[at+1:])
	if domain == "" || strings.ContainsAny(domain, " []") {
		p.stats.Malformed++
		return
	}
	reason := ""
	if i := bytes.Index(rest, []byte(" status=")); i >= 0 {
		if j := bytes.IndexByte(rest[i:], '('); j >= 0 {
			reason = strings.TrimSuffix(string(rest[i+j+1:]), ")")
		}
	}
	ps := p.procs[string(key)]
	if ps == nil {
		ps = &procState{seen: t}
		p.procs[string(key)] = ps
	}
	var sessions []session
	for _, s := range ps.ended {
		if s.qid == qid || s.qid == "" {
			sessions = append(sessions, s)
		} else {
			p.stats.Orphaned++
		}
	}
	ps.ended = ps.ended[:0]
	if ps.cur != nil {
		ps.cur.notVerified = reason == serverNotVerified
		sessions = append(sessions, *ps.cur)
		ps.cur = nil
	} else if ps.doneQID != qid || len(sessions) > 0 {
		if s, ok := p.sessionFromStatus(t, relay, status, reason, rest); ok {
			sessions = append(sessions, s)
		}
	}
	ps.doneQID = qid
	if len(sessions) == 0 {
		p.stats.Unrelated++
	}
	policy := p.policy(domain, t)
	for _, s := range sessions {
		rec.Record(p.outcome(s, policy))
		p.stats.Sessions++
	}
	p.sweep(t)
}

// OldestOpen returns the mark (ParseAt) of the first line of the oldest
// session still waiting for its delivery status, and false when none is.
// A reader that stops and starts again from that line, with the outcomes
// of the lines it had already read dropped, rebuilds every open session
// and reports each session once.
func (p *PostfixParser) OldestOpen() (int64, bool) {
	oldest, ok := int64(0), false
	see := func(s *session) {
		if !ok || s.mark < oldest {
			oldest, ok = s.mark, true
		}
	}
	for _, ps := range p.procs {
		if ps.cur != nil {
			see(ps.cur)
		}
		for i := range ps.ended {
			see(&ps.ended[i])
		}
	}
	return oldest, ok
}

// maxProcs bounds the smtp(8) processes followed at once; beyond it,
// processes idle or silent for an hour are forgotten.
const maxProcs = 4096

// sweep forgets processes that are done, or silent for an hour (they
// exited without a status line), when too many are followed.
func (p *PostfixParser) sweep(now time.Time) {
	if len(p.procs) < maxProcs {
		return
	}
	for key, ps := range p.procs {
		if ps.cur == nil && len(ps.ended) == 0 {
			delete(p.procs, key)
		} else if now.Sub(ps.seen) > time.Hour {
			p.stats.Orphaned += int64(len(ps.ended))
			if ps.cur != nil {
				p.stats.Orphaned++
			}
			delete(p.procs, key)
		}
	}
}

// sessionFromStatus makes the session of a status line that had no TLS
// line before it: STARTTLS not offered or refused, or a session that went
// on without TLS (delivered, or answered after the greeting) on a new
// connection.
func (p *PostfixParser) sessionFromStatus(t time.Time, relay, status, reason string, rest []byte) (session, bool) {
	if s, ok := starttlsFailure(t, p.mark, []byte(reason)); ok {
		return s, true
	}
	if bytes.Contains(rest, []byte(" conn_use=")) {
		return session{}, false // a cached connection: not a new session
	}
	host, ip, _, ok := namaddr([]byte(relay))
	if !ok {
		return session{}, false
	}
	if status == "sent" || afterGreeting(reason) {
		return session{time: t, host: host, ip: ip, noTLS: "no TLS session"}, true
	}
	return session{}, false
}

// policy returns the policy applied to domain at t.
func (p *PostfixParser) policy(domain string, t time.Time) tlsrpt.Policy {
	if p.Policies != nil {
		if pol, ok := p.Policies.PolicyAt(domain, t); ok {
			return pol
		}
	}
	return tlsrpt.Policy{Type: tlsrpt.PolicyNoPolicyFound, Domain: domain}
}

// outcome judges session s under policy. Postfix's words for a failure
// go to "failure-reason-code", the member RFC 8460 §4.4 has for "a
// TLS-related error code or error message".
func (p *PostfixParser) outcome(s session, policy tlsrpt.Policy) Outcome {
	o := Outcome{Time: s.time, Policy: policy, MXHost: normalDomain(s.host), ReceivingIP: s.ip, SendingIP: p.SendingIP}
	if policy.Type == tlsrpt.PolicyNoPolicyFound {
		return o
	}
	switch {
	case s.handshake != "":
		o.Result, o.ReasonCode = tlsrpt.ResultValidationFailure, s.handshake
	case s.noTLS != "":
		o.Result, o.ReasonCode = tlsrpt.ResultSTARTTLSNotSupported, s.noTLS
	case s.fail != nil:
		o.Result, o.ReasonCode = s.fail.result, s.fail.reason
	case s.tls == tlsTrusted && s.notVerified:
		// The chain was trusted but the name did not match: Postfix
		// before 3.6 checked names itself and logged no failure line.
		o.Result, o.ReasonCode = tlsrpt.ResultCertificateHostMismatch, "Trusted TLS connection, "+serverNotVerified
	case s.tls == tlsVerified || s.tls == tlsTrusted:
	case s.tls == tlsUntrusted:
		o.Result = tlsrpt.ResultCertificateNotTrusted
	default:
		o.Result, o.ReasonCode = tlsrpt.ResultValidationFailure, "no certificate presented"
	}
	return o
}
