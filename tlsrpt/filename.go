package tlsrpt

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Filename is a report file name taken apart (RFC 8460 §5.1):
//
//	submitter "!" policy-domain "!" begin-timestamp "!" end-timestamp [ "!" unique-id ] "." extension
type Filename struct {
	Submitter    string    // the sending organisation's domain
	PolicyDomain string    // the domain the report is about
	Begin, End   time.Time // the period covered, in UTC
	Unique       string    // optional unique-id
	Gzip         bool      // extension "json.gz" rather than "json"
}

// ParseFilename takes apart a report file name (RFC 8460 §5.1), as found on
// the attachment of a report mail (§5.3). It accepts any unique-id without
// "!", which is laxer than the RFC's letters and digits.
func ParseFilename(name string) (*Filename, error) {
	bad := func() (*Filename, error) {
		return nil, fmt.Errorf("tlsrpt: file name %q is not submitter!policy-domain!begin!end[!unique].json[.gz] (RFC 8460 §5.1)", name)
	}
	var f Filename
	base, ok := cutSuffixFold(name, ".json.gz")
	if ok {
		f.Gzip = true
	} else if base, ok = cutSuffixFold(name, ".json"); !ok {
		return bad()
	}
	parts := strings.Split(base, "!")
	if len(parts) != 4 && len(parts) != 5 {
		return bad()
	}
	f.Submitter, f.PolicyDomain = parts[0], parts[1]
	if f.Submitter == "" || f.PolicyDomain == "" {
		return bad()
	}
	for i, t := range []*time.Time{&f.Begin, &f.End} {
		s := parts[2+i]
		if s == "" || strings.Trim(s, "0123456789") != "" {
			return bad()
		}
		secs, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return bad()
		}
		*t = time.Unix(secs, 0).UTC()
	}
	if len(parts) == 5 {
		if f.Unique = parts[4]; f.Unique == "" {
			return bad()
		}
	}
	return &f, nil
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

// FilenameFor names a gzipped report as RFC 8460 §5.1 asks, for the mail
// attachment of §5.3:
//
//	submitter "!" policy-domain "!" begin-timestamp "!" end-timestamp [ "!" unique-id ] ".json.gz"
//
// with the timestamps in seconds since the Unix epoch. Domains are
// lower-cased without trailing dot; characters that have no place in a
// domain name are dropped from them, and all but letters and digits from
// unique, so the result is always a safe file name.
func FilenameFor(submitter, policyDomain string, begin, end time.Time, unique string) string {
	var b strings.Builder
	b.WriteString(filenameDomain(submitter))
	b.WriteByte('!')
	b.WriteString(filenameDomain(policyDomain))
	b.WriteByte('!')
	b.WriteString(strconv.FormatInt(begin.Unix(), 10))
	b.WriteByte('!')
	b.WriteString(strconv.FormatInt(end.Unix(), 10))
	if u := keepBytes(unique, isAlnum); u != "" {
		b.WriteString("!" + u)
	}
	b.WriteString(".json.gz")
	return b.String()
}

func filenameDomain(s string) string {
	s = strings.TrimSuffix(strings.ToLower(s), ".")
	return keepBytes(s, func(c byte) bool { return isAlnum(c) || c == '-' || c == '.' || c == '_' })
}

func keepBytes(s string, keep func(byte) bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if keep(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
