package tlsrptsend

import (
	"bytes"
	"net/netip"
	"strings"

	"github.com/mtasts/mtasts/tlsrpt"
)

// The wording of Postfix's smtp(8) log lines, taken apart: which lines
// are the client's, the server named in them, queue ids, and what the
// reasons Postfix gives mean for RFC 8460.

// isSMTPClient reports whether a syslog tag is Postfix's smtp(8) or
// lmtp(8) client: "postfix/smtp", "postfix-out/smtp", or a service
// renamed in master.cf such as "postfix/smtp-relay".
func isSMTPClient(prog []byte) bool {
	slash := bytes.LastIndexByte(prog, '/')
	if slash < 0 {
		return false
	}
	name := prog[slash+1:]
	for _, c := range [][]byte{[]byte("smtp"), []byte("lmtp")} {
		if bytes.HasPrefix(name, c) && !bytes.HasPrefix(name, []byte("smtpd")) {
			return true
		}
	}
	return false
}

// tlsStates are the first words of Postfix's TLS summary line
// (tls_log_summary), by what Postfix made of the server's certificate.
var tlsStates = []struct {
	prefix string
	state  tlsState
}{
	{"Verified TLS connection ", tlsVerified},
	{"Trusted TLS connection ", tlsTrusted},
	{"Untrusted TLS connection ", tlsUntrusted},
	{"Anonymous TLS connection ", tlsAnonymous},
}

// hasTLSSummaryPrefix tells cheaply whether msg may be a TLS summary
// line; tlsSummary reads it strictly.
func hasTLSSummaryPrefix(msg []byte) bool {
	return len(msg) > 0 && (msg[0] == 'V' || msg[0] == 'T' || msg[0] == 'U' || msg[0] == 'A') &&
		bytes.Contains(msg, []byte(" TLS connection "))
}

// namaddr reads Postfix's "host[addr]:port" (or "host[addr]") at the start
// of b and returns what follows ": ", if anything.
func namaddr(b []byte) (host string, ip netip.Addr, rest string, ok bool) {
	open := bytes.IndexByte(b, '[')
	if open <= 0 {
		return "", netip.Addr{}, "", false
	}
	end := bytes.IndexByte(b[open:], ']')
	if end < 0 {
		return "", netip.Addr{}, "", false
	}
	end += open
	ip, err := netip.ParseAddr(string(b[open+1 : end]))
	if err != nil {
		return "", netip.Addr{}, "", false
	}
	host = string(b[:open])
	if strings.ContainsAny(host, " ,:") {
		return "", netip.Addr{}, "", false
	}
	tail := b[end+1:]
	if len(tail) > 0 && tail[0] == ':' && len(tail) > 1 && tail[1] != ' ' {
		i := 1
		for i < len(tail) && tail[i] >= '0' && tail[i] <= '9' {
			i++
		}
		if i == 1 {
			return "", netip.Addr{}, "", false
		}
		tail = tail[i:]
	}
	if r, ok := bytes.CutPrefix(tail, []byte(": ")); ok {
		rest = string(r)
	}
	return host, ip.Unmap(), rest, true
}

// queueID reads the queue id at the start of a message ("4DE5F9858B3: "
// or a long queue id), telling it apart from "warning: " and the like.
func queueID(msg []byte) (string, []byte, bool) {
	i := bytes.Index(msg, []byte(": "))
	if i < 6 || i > 32 {
		return "", nil, false
	}
	id := msg[:i]
	digit := false
	for _, c := range id {
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		default:
			return "", nil, false
		}
	}
	if !digit {
		return "", nil, false
	}
	return string(id), msg[i+2:], true
}

// field returns what lies between start and the next end in b.
func field(b []byte, start, end string) (string, bool) {
	i := bytes.Index(b, []byte(start))
	if i < 0 {
		return "", false
	}
	v := b[i+len(start):]
	j := bytes.Index(v, []byte(end))
	if j < 0 {
		return "", false
	}
	return string(v[:j]), true
}

// afterGreeting reports whether a failure reason shows that the session
// went past EHLO and STARTTLS: a reply "(in reply to MAIL FROM command)",
// or a connection lost or timed out "while sending RCPT TO" (Postfix's
// smtp_trouble.c and smtp_chat.c wordings).
func afterGreeting(reason string) bool {
	var phase string
	if i := strings.LastIndex(reason, "(in reply to "); i >= 0 {
		phase = reason[i+len("(in reply to "):]
	} else if i := strings.LastIndex(reason, " while "); i >= 0 {
		phase = reason[i+len(" while "):]
	} else {
		return false
	}
	for _, early := range earlyPhases {
		if strings.Contains(phase, early) {
			return false
		}
	}
	return true
}

// earlyPhases name the parts of a session before or at STARTTLS.
var earlyPhases = []string{"EHLO", "HELO", "LHLO", "STARTTLS", "initial", "XCLIENT", "XFORWARD", "TLS"}

// classifyVerifyFailure maps the reasons of Postfix's
// tls_log_verify_error to RFC 8460 §4.3.1 result types.
func classifyVerifyFailure(reason string) verifyFailure {
	f := verifyFailure{tlsrpt.ResultValidationFailure, reason}
	switch {
	case reason == "certificate has expired":
		f.result = tlsrpt.ResultCertificateExpired
	case strings.HasSuffix(reason, ":hostname mismatch"):
		f.result = tlsrpt.ResultCertificateHostMismatch
	case reason == "self-signed certificate",
		strings.HasPrefix(reason, "untrusted issuer "),
		reason == "not trusted by local or TLSA policy",
		strings.HasPrefix(reason, "certificate chain longer than limit"):
		f.result = tlsrpt.ResultCertificateNotTrusted
	}
	return f
}
