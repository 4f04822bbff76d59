package sts

import (
	"fmt"
	"strings"

	"github.com/mtasts/mtasts/internal/untrusted"
)

// recordPrefix is what a TXT record must begin with to count as an MTA-STS
// record at all (RFC 8461 §3.1).
const recordPrefix = "v=STSv1;"

// versionField is the first field of every MTA-STS record.
const versionField = "v=STSv1"

// maxIDLen is the longest id of RFC 8461 §3.1 (sts-id = "id=" 1*32(ALPHA / DIGIT)).
const maxIDLen = 32

// maxNameLen is the longest extension name (RFC 8461 §3.1 sts-ext-name and
// §3.2 sts-policy-ext-name: one character then up to 31 more).
const maxNameLen = 32

// Record is the _mta-sts.<domain> TXT record of RFC 8461 §3.1, such as
// "v=STSv1; id=20160831085700Z;". Its ID changes whenever the policy
// changes; senders compare it with the id of a cached policy.
type Record struct {
	// Version is always "STSv1".
	Version string
	// ID identifies the current policy: 1 to 32 letters or digits.
	ID string
	// Extensions are the other fields, in record order. RFC 8461 §3.1
	// says they are ignored; they are kept for display.
	Extensions []Extension
}

// Extension is a key/value field that RFC 8461 does not define: an
// sts-extension of a TXT record (§3.1) or an sts-policy-extension of a
// policy (§3.2). Receivers ignore extensions.
type Extension struct {
	Key, Value string
}

// String returns the record in canonical form: "v=STSv1; id=<id>;" followed
// by " key=value;" for each extension, in order. The result parses back to
// an equal Record.
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString(versionField + "; id=" + r.ID + ";")
	for _, e := range r.Extensions {
		b.WriteString(" " + e.Key + "=" + e.Value + ";")
	}
	return b.String()
}

// ParseRecord parses one _mta-sts TXT record (its strings already joined)
// by the ABNF of RFC 8461 §3.1:
//
//	sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//	sts-field       = sts-id / sts-extension
//	sts-field-delim = *WSP ";" *WSP
//	sts-version     = %s"v=STSv1"
//	sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//	sts-extension   = sts-ext-name "=" sts-ext-value
//	sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//	sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
//
// Choices where the RFC leaves room:
//
//   - The record is US-ASCII; any other byte is an error.
//   - "v=STSv1" must be followed directly by ";". The ABNF would allow
//     whitespace before it, but §3.1 discards records that do not begin
//     with "v=STSv1;", and erratum 6285 drops the leading *WSP from
//     sts-field-delim; a record like "v=STSv1 ; id=1" would be ignored by
//     senders that follow the text, so it is reported as an error.
//     Whitespace before the other delimiters is accepted as the ABNF says.
//   - Names and "v=STSv1" are case-sensitive (%s in the ABNF).
//   - The id field is required (§3.1). The first "id=" field is the id; a
//     later "id=" field also matches the sts-extension production, so it is
//     kept as an Extension named "id" and, like every extension, ignored.
//
// Errors are of type *RecordSyntaxError, with the byte offset and field.
func ParseRecord(txt string) (*Record, error) {
	fail := func(off int, field, value, reason string) (*Record, error) {
		return nil, &RecordSyntaxError{Offset: off, Field: field, Value: value, Reason: reason}
	}
	for i := 0; i < len(txt); i++ {
		if txt[i] >= 0x80 {
			return fail(i, "", "", "non-ASCII byte; the record must be US-ASCII")
		}
	}
	if !strings.HasPrefix(txt, versionField) {
		tok := txt[:fieldEnd(txt, 0)]
		switch {
		case txt != "" && isWSP(txt[0]):
			return fail(0, "", "", `record must begin with "v=STSv1", not whitespace`)
		case strings.HasPrefix(tok, "v="):
			return fail(0, "v", tok[2:], `version must be "STSv1" (case-sensitive)`)
		case strings.Contains(txt, versionField):
			return fail(0, "", "", `"v=STSv1" must be the first field`)
		default:
			return fail(0, "", "", `record must begin with "v=STSv1"`)
		}
	}
	pos := len(versionField)
	switch {
	case pos == len(txt):
		return fail(pos, "id", "", "required field is missing")
	case isWSP(txt[pos]):
		return fail(pos, "", "", `whitespace between "v=STSv1" and ";": senders discard records that do not begin with "v=STSv1;" (erratum 6285)`)
	case txt[pos] != ';':
		return fail(0, "v", txt[2:fieldEnd(txt, 0)], `version must be exactly "STSv1"`)
	}
	rec := &Record{Version: "STSv1"}
	haveID := false
	// Invariant: txt[pos] is the ";" of a delimiter.
	for {
		pos = skipWSP(txt, pos+1)
		if pos == len(txt) {
			break // optional trailing delimiter
		}
		start := pos
		end := fieldEnd(txt, pos)
		if start == end {
			return fail(start, "", "", `empty field between ";" delimiters`)
		}
		field := txt[start:end]
		name, value, ok := strings.Cut(field, "=")
		switch {
		case !ok:
			return fail(start, "", field, `field has no "="; fields are name=value`)
		case name == "id" && !haveID:
			if reason := checkID(value); reason != "" {
				return fail(start, "id", value, reason)
			}
			rec.ID = value
			haveID = true
		default:
			if reason := checkName(name); reason != "" {
				return fail(start, name, "", "extension name "+reason)
			}
			if reason := checkRecordExtValue(value); reason != "" {
				return fail(start+len(name)+1, name, value, reason)
			}
			rec.Extensions = append(rec.Extensions, Extension{Key: name, Value: value})
		}
		pos = skipWSP(txt, end)
		if pos == len(txt) {
			if pos != end {
				return fail(end, "", "", `whitespace after the last field; the ABNF allows it only around ";"`)
			}
			break // the last field, without trailing delimiter
		}
		if txt[pos] != ';' {
			return fail(pos, "", "", fmt.Sprintf("unexpected %s after field %s; fields are separated by \";\"", untrusted.Byte(txt, pos), untrusted.Quote(field)))
		}
	}
	if !haveID {
		return fail(len(txt), "id", "", "required field is missing")
	}
	return rec, nil
}

// SelectRecord picks the MTA-STS record among the TXT records of
// _mta-sts.<domain> (each with its strings already joined, as the DNS
// layer does) and parses it (RFC 8461 §3.1): records that do not begin with
// "v=STSv1;" are discarded; if none remains the result is ErrNoRecord, if
// several remain ErrMultipleRecords (which is also ErrNoRecord: the domain
// does not implement MTA-STS). The one record left is parsed with
// ParseRecord; a syntax error is a *RecordSyntaxError (ErrRecordSyntax).
//
// When no record qualifies but one begins with "v=STSv1" followed by
// whitespace, the ErrNoRecord error says so, to help the domain's owner.
func SelectRecord(txts []string) (*Record, error) {
	var found []string
	nearMiss := 0
	for _, t := range txts {
		switch {
		case strings.HasPrefix(t, recordPrefix):
			found = append(found, t)
		case strings.HasPrefix(t, versionField) && len(t) > len(versionField) && isWSP(t[len(versionField)]):
			nearMiss++
		}
	}
	switch {
	case len(found) > 1:
		return nil, fmt.Errorf("%w: %d records", ErrMultipleRecords, len(found))
	case len(found) == 0 && nearMiss > 0:
		return nil, fmt.Errorf(`%w: %d record(s) begin with "v=STSv1" and whitespace instead of "v=STSv1;" and are discarded (%s, erratum 6285)`, ErrNoRecord, nearMiss, secRecord)
	case len(found) == 0:
		return nil, ErrNoRecord
	}
	return ParseRecord(found[0])
}

// fieldEnd returns the index just past the field that starts at pos: the
// next ";", space, tab or the end of s.
func fieldEnd(s string, pos int) int {
	for pos < len(s) && s[pos] != ';' && !isWSP(s[pos]) {
		pos++
	}
	return pos
}

func skipWSP(s string, pos int) int {
	for pos < len(s) && isWSP(s[pos]) {
		pos++
	}
	return pos
}

// isWSP reports whether c is WSP of RFC 5234 (space or horizontal tab).
func isWSP(c byte) bool { return c == ' ' || c == '\t' }

func isAlphaDigit(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// checkID checks sts-id: 1*32(ALPHA / DIGIT). It returns a reason, or "".
func checkID(v string) string {
	if v == "" || len(v) > maxIDLen {
		return fmt.Sprintf("must be 1 to %d letters or digits, not %d characters", maxIDLen, len(v))
	}
	for i := 0; i < len(v); i++ {
		if !isAlphaDigit(v[i]) {
			return fmt.Sprintf("must be 1 to %d letters or digits; %s is not allowed", maxIDLen, untrusted.Byte(v, i))
		}
	}
	return ""
}

// checkName checks an extension name, the same production in a TXT record
// and a policy: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
// It returns a reason, or "".
func checkName(n string) string {
	switch {
	case n == "":
		return "is empty"
	case len(n) > maxNameLen:
		return fmt.Sprintf("is longer than %d characters", maxNameLen)
	case !isAlphaDigit(n[0]):
		return fmt.Sprintf("must begin with a letter or digit, not %s", untrusted.Byte(n, 0))
	}
	for i := 1; i < len(n); i++ {
		if c := n[i]; !isAlphaDigit(c) && c != '_' && c != '-' && c != '.' {
			return fmt.Sprintf("may hold only letters, digits, \"_\", \"-\" and \".\"; %s is not allowed", untrusted.Byte(n, i))
		}
	}
	return ""
}

// checkRecordExtValue checks sts-ext-value: 1*(%x21-3A / %x3C / %x3E-7E),
// printable ASCII without ";" and "=" (and the field scanner already
// stops at ";" and whitespace). It returns a reason, or "".
func checkRecordExtValue(v string) string {
	if v == "" {
		return "value is empty"
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '=':
			return `value must not contain "="`
		case c < 0x21 || c > 0x7e:
			return fmt.Sprintf("value must be printable ASCII; %s is not allowed", untrusted.Byte(v, i))
		}
	}
	return ""
}
