package enforce

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
)

// The Exim protocol: Exim has no MTA-STS client and no socketmap lookup,
// but its ${readsocket{socket}{request}} expansion item connects to a
// socket, writes a request, half-closes the connection and reads the
// answer until end of file. The daemon serves it on the exim_listen
// sockets: one request line per connection, one answer line, then the
// daemon closes the connection.
//
// The request is a lookup key, as Postfix would send it (ParseNextHop),
// ended by a newline: Exim's "$domain\n". The answer is a line of
// key=value fields that Exim's ${extract{key}{...}} takes apart:
//
//	action=enforce policy=enforce domain=example.com mx=mx1.example.com:*.example.net uncovered=!^mx1\.example\.com$:!^[^.]+\.example\.net$:*
//	action=deliver policy=testing domain=example.com
//	action=dane policy=dane domain=example.com
//	action=defer policy=tempfail domain=example.com reason="MTA-STS policy of example.com unknown for now: …"
//
// action says what Exim does (docs/exim.md): "enforce" delivers over
// verified TLS to the MX hosts the policy covers only, "deliver" as
// without MTA-STS, "dane" leaves it to Exim's DANE, "defer" keeps the
// mail queued with reason as the error text. policy is the decision kind
// (resolver.Kind), domain the policy domain, mx the policy's mx patterns.
// uncovered is an Exim host list for the dnslookup router's
// ignore_target_hosts that matches every MX host that none of the
// patterns covers, by name, with RFC 8461 §4.1's exact matching ("*."
// stands for exactly one label). Every value but reason is one token
// without white space; reason is quoted, with '"' and '\' escaped.

// EximAction is what an Exim answer tells Exim to do.
type EximAction string

// The actions of an Exim answer.
const (
	// EximEnforce: deliver only over TLS verified for an MX host name
	// that the policy covers (RFC 8461 §4); defer otherwise.
	EximEnforce EximAction = "enforce"
	// EximDeliver: deliver as Exim would without MTA-STS (testing, none,
	// no policy).
	EximDeliver EximAction = "deliver"
	// EximDANE: DANE governs (RFC 8461 §2); Exim's own DANE support
	// applies.
	EximDANE EximAction = "dane"
	// EximDefer: keep the mail queued and retry later (RFC 8461 §5).
	EximDefer EximAction = "defer"
)

// MaxEximRequest is the longest Exim request, newline included: a
// domain name is at most 253 bytes, and a bracketed next hop with a port
// a few more.
const MaxEximRequest = 512

// ErrEximRequest means that an Exim request is not one line holding one
// lookup key. Errors of ReadEximRequest and ParseEximRequest wrap it.
var ErrEximRequest = errors.New("bad exim request")

// ReadEximRequest reads one request from r, at most MaxEximRequest bytes
// up to and including the newline, and returns its lookup key. It reads
// no further than the newline, so the client need not close its side.
func ReadEximRequest(r io.Reader) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, MaxEximRequest), MaxEximRequest)
	line, err := br.ReadSlice('\n')
	switch {
	case err == nil:
		return ParseEximRequest(line)
	case errors.Is(err, io.EOF) && len(line) == MaxEximRequest:
		return "", fmt.Errorf("%w: longer than %d bytes", ErrEximRequest, MaxEximRequest)
	case errors.Is(err, io.EOF):
		return "", fmt.Errorf("%w: %q ends without a newline", ErrEximRequest, truncate(string(line), 80))
	default:
		return "", fmt.Errorf("%w: reading: %w", ErrEximRequest, err)
	}
}

// ParseEximRequest returns the lookup key of a request line: at most
// MaxEximRequest bytes of UTF-8 text ending in its only newline, holding
// one word without white space or control characters.
func ParseEximRequest(line []byte) (string, error) {
	bad := func(reason string) (string, error) {
		return "", fmt.Errorf("%w: %q %s", ErrEximRequest, truncate(string(line), 80), reason)
	}
	key, ok := strings.CutSuffix(string(line), "\n")
	switch {
	case len(line) > MaxEximRequest:
		return bad(fmt.Sprintf("is longer than %d bytes", MaxEximRequest))
	case !ok:
		return bad("does not end with a newline")
	case key == "":
		return bad("is empty")
	case !utf8.ValidString(key):
		return bad("is not UTF-8")
	}
	for _, c := range key {
		if unicode.IsSpace(c) || unicode.IsControl(c) || c == '"' || c == '\\' {
			return bad(fmt.Sprintf("holds %q; a request is one lookup key and a newline", c))
		}
	}
	return key, nil
}

// EximAnswer returns the answer line, newline included, to an Exim
// request answered with res (see Handler.Resolve). It follows the
// Postfix reply: a TEMP reply is "defer" with its text as the reason, an
// enforced policy (or a testing one under StrictTesting) is "enforce",
// DANE is "dane", and everything Postfix is told NOTFOUND is "deliver".
func EximAnswer(res Result) string {
	d := res.Decision
	var b strings.Builder
	field := func(key, value string) {
		if value != "" {
			b.WriteString(" " + key + "=" + value)
		}
	}
	action := EximDeliver
	var patterns []string
	switch {
	case res.Reply.Status == socketmap.StatusTemp:
		action = EximDefer
	case res.Reply.Status == socketmap.StatusOK && d.Kind == resolver.DANE:
		action = EximDANE
	case res.Reply.Status == socketmap.StatusOK:
		action = EximEnforce
		for _, p := range d.MX {
			if unusablePattern(p) == "" {
				patterns = append(patterns, p)
			}
		}
		if len(patterns) == 0 {
			// Reply already answers TEMP for this; never say enforce
			// without a pattern to match.
			action = EximDefer
		}
	}
	b.WriteString("action=" + string(action))
	field("policy", string(d.Kind))
	field("domain", d.Domain)
	switch action {
	case EximEnforce:
		field("mx", strings.Join(patterns, ":"))
		field("uncovered", uncoveredHosts(patterns))
	case EximDefer:
		reason := "MTA-STS: the policy of " + d.Domain + " has no usable mx pattern"
		if res.Reply.Status == socketmap.StatusTemp {
			reason = res.Reply.Data
		}
		field("reason", eximQuote(oneLine(reason)))
	}
	b.WriteByte('\n')
	return b.String()
}

// uncoveredHosts returns the Exim host list that matches the hosts that
// none of patterns covers: a negated regular expression per pattern,
// which Exim matches against the MX host name without regard to case,
// and "*" for the rest. RFC 8461 §4.1: a pattern is a host name, matched
// exactly, or "*." and a domain, matching exactly one more label. The
// patterns are lower case, without a trailing dot, of letters, digits,
// hyphens and dots (unusablePattern), so that only the dots need escaping
// and no item holds Exim's list separator ':'.
func uncoveredHosts(patterns []string) string {
	var b strings.Builder
	for _, p := range patterns {
		b.WriteString("!^")
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			b.WriteString(`[^.]+\.`)
			p = rest
		}
		b.WriteString(strings.ReplaceAll(p, ".", `\.`))
		b.WriteString("$:")
	}
	b.WriteString("*")
	return b.String()
}

// eximQuote quotes s as a value that Exim's ${extract} returns as s: in
// double quotes, with '"' and '\' escaped by a backslash.
func eximQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
