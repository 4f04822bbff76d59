package tlsrptsend

import (
	"bytes"
	"time"
)

// logLine is one line of a system log taken apart: when, which program
// (syslog tag such as "postfix/smtp") and process, and the message.
type logLine struct {
	time time.Time
	prog []byte // "postfix/smtp", "postfix-out/smtp"
	pid  []byte
	proc []byte // "postfix/smtp[123": program and process, one key
	msg  []byte
}

// syslogClock turns the timestamps of log lines into times. Traditional
// syslog timestamps ("Dec  7 18:32:25", RFC 3164 §4.1.2) have neither year
// nor zone: they are read in loc, in the year that puts them no more than
// a day after now.
type syslogClock struct {
	loc *time.Location
	now func() time.Time
}

// parseSyslogLine reads the formats Postfix lines come in:
//
//	Dec  7 18:32:25 host postfix/smtp[123]: msg            syslog (RFC 3164), journalctl -o short
//	Dec 07 18:32:25 host postfix/smtp[123]: msg            Postfix maillog_file, journalctl -o short
//	2026-12-07T18:32:25.123456+00:00 host postfix/smtp[123]: msg   RFC 5424 time (rsyslog)
//	2026-12-07T18:32:25+0000 host postfix/smtp[123]: msg   journalctl -o short-iso / short-iso-precise
//
// It reports false for anything else.
func (c *syslogClock) parseSyslogLine(line []byte) (logLine, bool) {
	var l logLine
	var rest []byte
	var ok bool
	if len(line) > 0 && line[0] >= '0' && line[0] <= '9' {
		l.time, rest, ok = parseISOStamp(line)
	} else {
		l.time, rest, ok = c.parseBSDStamp(line)
	}
	if !ok || len(rest) == 0 || rest[0] != ' ' {
		return l, false
	}
	// host
	rest = rest[1:]
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return l, false
	}
	rest = rest[sp+1:]
	// tag[pid]: msg
	colon := bytes.Index(rest, []byte("]: "))
	if colon < 0 {
		return l, false
	}
	open := bytes.LastIndexByte(rest[:colon], '[')
	if open <= 0 || bytes.IndexByte(rest[:open], ' ') >= 0 {
		return l, false
	}
	l.prog, l.pid, l.proc, l.msg = rest[:open], rest[open+1:colon], rest[:colon], rest[colon+3:]
	for _, d := range l.pid {
		if d < '0' || d > '9' {
			return l, false
		}
	}
	return l, len(l.pid) > 0
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseBSDStamp reads "Mmm dd hh:mm:ss" (day padded with a space or a
// zero).
func (c *syslogClock) parseBSDStamp(b []byte) (time.Time, []byte, bool) {
	if len(b) < 15 || b[3] != ' ' || b[6] != ' ' {
		return time.Time{}, nil, false
	}
	month := 0
	for i, m := range months {
		if string(b[:3]) == m {
			month = i + 1
			break
		}
	}
	day, ok1 := digits(b[4:6], true)
	hh, ok2 := digits(b[7:9], false)
	mm, ok3 := digits(b[10:12], false)
	ss, ok4 := digits(b[13:15], false)
	if month == 0 || !ok1 || !ok2 || !ok3 || !ok4 || b[9] != ':' || b[12] != ':' ||
		day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, nil, false
	}
	now := c.now().In(c.loc)
	t := time.Date(now.Year(), time.Month(month), day, hh, mm, ss, 0, c.loc)
	if t.After(now.Add(24 * time.Hour)) {
		t = t.AddDate(-1, 0, 0)
	}
	return t, b[15:], true
}

// parseISOStamp reads an RFC 3339 date-time up to the first space,
// accepting the zone offset without colon that journalctl writes.
func parseISOStamp(b []byte) (time.Time, []byte, bool) {
	sp := bytes.IndexByte(b, ' ')
	if sp < 20 {
		return time.Time{}, nil, false
	}
	s := string(b[:sp])
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, b[sp:], true
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999-0700", s); err == nil {
		return t, b[sp:], true
	}
	return time.Time{}, nil, false
}

// digits reads a two-digit number; with spacePad the first may be a space.
func digits(b []byte, spacePad bool) (int, bool) {
	n := 0
	for i, d := range b {
		switch {
		case d >= '0' && d <= '9':
			n = n*10 + int(d-'0')
		case d == ' ' && spacePad && i == 0:
		default:
			return 0, false
		}
	}
	return n, true
}
