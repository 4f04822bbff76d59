package socketmap

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// Status is the first word of a reply, with the protocol's own values.
type Status string

// The reply statuses of socketmap_table(5).
const (
	// StatusOK: the key was found; the data is the lookup result.
	StatusOK Status = "OK"
	// StatusNotFound: the key was not found; there is no data.
	StatusNotFound Status = "NOTFOUND"
	// StatusTemp: a temporary failure; the data is a reason for people.
	StatusTemp Status = "TEMP"
	// StatusTimeout: a timeout, which Postfix treats like TEMP.
	StatusTimeout Status = "TIMEOUT"
	// StatusPerm: a permanent failure; the data is a reason for people.
	StatusPerm Status = "PERM"
)

// Valid reports whether s is one of the five statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusOK, StatusNotFound, StatusTemp, StatusTimeout, StatusPerm:
		return true
	}
	return false
}

// Request is one lookup: the payload "<map> <key>".
type Request struct {
	// Map is the socketmap name, the last field of Postfix's
	// "socketmap:inet:host:port:name" or "socketmap:unix:path:name".
	Map string
	// Key is the lookup key: for smtp_tls_policy_maps a next-hop domain
	// or "[host]:port". It may be empty and may contain spaces.
	Key string
}

// ParseRequest parses a request payload. The map name is everything before
// the first space and must not be empty; the key is everything after that
// space, spaces included (socketmap_table(5): "name <space> key").
// Errors are *ProtocolError wrapping ErrSyntax.
func ParseRequest(payload []byte) (Request, error) {
	i := bytes.IndexByte(payload, ' ')
	switch {
	case i < 0:
		return Request{}, &ProtocolError{Unit: "request", Offset: len(payload), Err: ErrSyntax,
			Reason: "missing space between map name and key"}
	case i == 0:
		return Request{}, &ProtocolError{Unit: "request", Offset: 0, Err: ErrSyntax,
			Reason: "empty map name"}
	}
	s := string(payload)
	return Request{Map: s[:i], Key: s[i+1:]}, nil
}

// String returns the request payload, "<map> <key>".
func (r Request) String() string { return r.Map + " " + r.Key }

// Reply is the answer to one request, sent as "<Status> <Data>".
//
// The Server makes each reply fit Server.MaxReply (Postfix's limit) and logs
// any change: an OK reply that does not fit is sent as TEMP, never cut,
// because a cut lookup result (a TLS policy missing part of its match list)
// is a different result and deferring the mail is the safe failure; a TEMP,
// TIMEOUT or PERM reason that does not fit is cut at a UTF-8 character
// boundary; a Status other than the five is sent as TEMP.
type Reply struct {
	Status Status
	// Data is the lookup result for StatusOK, a reason for StatusTemp,
	// StatusTimeout and StatusPerm, and ignored for StatusNotFound.
	Data string
}

// OK returns a StatusOK reply carrying data.
func OK(data string) Reply { return Reply{Status: StatusOK, Data: data} }

// NotFound returns a StatusNotFound reply.
func NotFound() Reply { return Reply{Status: StatusNotFound} }

// Temp returns a StatusTemp reply with a reason.
func Temp(reason string) Reply { return Reply{Status: StatusTemp, Data: reason} }

// Timeout returns a StatusTimeout reply with a reason.
func Timeout(reason string) Reply { return Reply{Status: StatusTimeout, Data: reason} }

// Perm returns a StatusPerm reply with a reason.
func Perm(reason string) Reply { return Reply{Status: StatusPerm, Data: reason} }

// String returns the reply payload: "<STATUS> <data>", and "NOTFOUND " with
// its trailing space and no data.
func (r Reply) String() string {
	if r.Status == StatusNotFound {
		return string(StatusNotFound) + " "
	}
	return string(r.Status) + " " + r.Data
}

// ParseReply parses a reply payload. It is lenient where servers differ:
// the space after the status may be missing when there is no data (Sendmail
// documents "NOTFOUND" without it). The status must be one of the five, in
// upper case. Errors are *ProtocolError wrapping ErrSyntax.
func ParseReply(payload []byte) (Reply, error) {
	word, data, _ := bytes.Cut(payload, []byte{' '})
	st := Status(word)
	if !st.Valid() {
		return Reply{}, &ProtocolError{Unit: "reply", Offset: 0, Err: ErrSyntax,
			Reason: fmt.Sprintf("unknown status %q", truncate(string(word), 32))}
	}
	if st == StatusNotFound {
		return NotFound(), nil
	}
	return Reply{Status: st, Data: string(data)}, nil
}

// fit returns r made sendable within max payload bytes as the Reply doc
// describes, and, when it had to change r, a note saying why for the log.
// NOTFOUND silently loses any data, which the protocol has no room for.
// max must leave room for the longest status and a short reason (the Server
// never passes less than minReplyLimit).
func (r Reply) fit(max int) (Reply, string) {
	var note string
	switch {
	case !r.Status.Valid():
		note = fmt.Sprintf("handler returned invalid status %q; sent TEMP", truncate(string(r.Status), 32))
		r = Temp("internal error: invalid reply status")
	case r.Status == StatusNotFound:
		r.Data = ""
	case r.Status == StatusOK && len(r.Status)+1+len(r.Data) > max:
		note = fmt.Sprintf("OK reply of %d bytes is over the limit of %d; sent TEMP", len(r.Status)+1+len(r.Data), max)
		r = Temp(fmt.Sprintf("lookup result too long (%d bytes, limit %d)", len(r.Status)+1+len(r.Data), max))
	}
	if room := max - len(r.Status) - 1; len(r.Data) > room {
		if note == "" {
			note = fmt.Sprintf("%s reason of %d bytes truncated to fit the limit of %d", r.Status, len(r.Data), max)
		}
		r.Data = truncate(r.Data, room)
	}
	return r, note
}

// truncate shortens s to at most n bytes without splitting a UTF-8
// character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
