package tlsrpt

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
)

// Version is the only TLSRPT version defined by RFC 8460 §3.
const Version = "TLSRPTv1"

// versionField is how every TLSRPT record must begin (RFC 8460 §3).
const versionField = "v=" + Version

// Record is a parsed _smtp._tls TXT record (RFC 8460 §3): where a domain
// wants its TLS reports sent.
type Record struct {
	Version    string      // always Version for a parsed record
	RUA        []ReportURI // report destinations, in record order; at least one
	Extensions []Extension // fields other than v and rua, in record order
}

// ReportURI is one destination of the rua field: a mailto: address for
// delivery by mail (RFC 8460 §5.3) or an https: URL for delivery by HTTP POST
// (RFC 8460 §5.4).
type ReportURI struct {
	// Text is the URI as written in the record. Commas, semicolons and
	// exclamation marks in it are percent-encoded (RFC 8460 §3).
	Text string
	// URL is Text parsed. Percent-encoding in the path of an https: URL is
	// decoded in URL.Path and kept in URL.RawPath; the address of a mailto:
	// URI stays encoded in URL.Opaque (see Addresses).
	URL *url.URL
}

// Extension is a field of a TLSRPT record other than v and rua
// (tlsrpt-extension in RFC 8460 §3). Unknown extensions are kept, not
// interpreted.
type Extension struct {
	Name  string
	Value string
}

// IsMailto reports whether u asks for delivery by mail (RFC 8460 §5.3).
func (u ReportURI) IsMailto() bool { return u.URL != nil && u.URL.Scheme == "mailto" }

// IsHTTPS reports whether u asks for delivery by HTTPS POST (RFC 8460 §5.4).
func (u ReportURI) IsHTTPS() bool { return u.URL != nil && u.URL.Scheme == "https" }

// Addresses returns the percent-decoded mail addresses of a mailto: URI
// (RFC 6068 allows several, separated by %2C in a TLSRPT record), or nil for
// any other URI.
func (u ReportURI) Addresses() []string {
	if !u.IsMailto() {
		return nil
	}
	addrs, err := mailtoAddresses(u.URL.Opaque)
	if err != nil {
		return nil
	}
	return addrs
}

// String returns the URI in the form a TLSRPT record needs: URL re-encoded,
// with ",", ";" and "!" percent-encoded (RFC 8460 §3).
func (u ReportURI) String() string {
	if u.URL == nil {
		return encodeForRecord(u.Text)
	}
	return encodeForRecord(u.URL.String())
}

// String returns r in canonical form, for example
// "v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.com/tlsrpt".
func (r *Record) String() string {
	var b strings.Builder
	v := r.Version
	if v == "" {
		v = Version
	}
	b.WriteString("v=" + v)
	for i, u := range r.RUA {
		if i == 0 {
			b.WriteString("; rua=")
		} else {
			b.WriteByte(',')
		}
		b.WriteString(u.String())
	}
	for _, e := range r.Extensions {
		b.WriteString("; " + e.Name + "=" + e.Value)
	}
	return b.String()
}

// IsRecord reports whether txt counts as a TLSRPT record when choosing among
// the TXT records of _smtp._tls.<domain>: it begins with v=TLSRPTv1 as a
// whole field (RFC 8460 §3).
func IsRecord(txt string) bool {
	rest, ok := strings.CutPrefix(txt, versionField)
	return ok && (rest == "" || rest[0] == ';' || isWSP(rest[0]))
}

// SelectRecord chooses the TLSRPT record among the TXT records of
// _smtp._tls.<domain> and parses it (RFC 8460 §3). Each element of txts is one
// TXT record with its strings already joined without separator. Records
// that do not begin with v=TLSRPTv1 are ignored. With none left the error
// is ErrNoRecord; with several it is ErrMultipleRecords (which also
// matches ErrNoRecord), since the RFC then turns reporting off.
func SelectRecord(txts []string) (*Record, error) {
	var found []string
	for _, t := range txts {
		if IsRecord(t) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return nil, ErrNoRecord
	case 1:
		return ParseRecord(found[0])
	}
	return nil, fmt.Errorf("tlsrpt: %d TXT records begin with %s: %w", len(found), versionField, ErrMultipleRecords)
}

// ParseRecord parses a _smtp._tls TXT record (RFC 8460 §3):
//
//	v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://reports.example.com/v1
//
// v=TLSRPTv1 comes first; fields are separated by ";" with optional spaces
// or tabs around it; rua appears exactly once and holds one or more mailto:
// or https: URIs separated by ",", in which ",", ";" and "!" are
// percent-encoded; other fields are extensions. Field names and the version
// are case-sensitive and the record is US-ASCII. Errors are
// *RecordSyntaxError.
func ParseRecord(txt string) (*Record, error) {
	for i := 0; i < len(txt); i++ {
		if c := txt[i]; (c < 0x20 || c > 0x7e) && c != '\t' {
			return nil, &RecordSyntaxError{Field: "record",
				Reason: fmt.Sprintf("has byte 0x%02x at offset %d; only printable US-ASCII is allowed", c, i)}
		}
	}
	fields := strings.Split(txt, ";")
	if first := strings.TrimRight(fields[0], " \t"); first != versionField {
		if IsRecord(first) {
			return nil, &RecordSyntaxError{Field: "v", Value: first, Reason: `is not followed by ";"`}
		}
		if v, ok := strings.CutPrefix(first, "v="); ok {
			return nil, &RecordSyntaxError{Field: "v", Value: v, Reason: "is not " + Version + " (the version is case-sensitive)"}
		}
		return nil, &RecordSyntaxError{Field: "v", Reason: "must be the first field and read " + versionField}
	}
	rec := &Record{Version: Version}
	seenRUA := false
	for i, f := range fields[1:] {
		f = strings.Trim(f, " \t")
		if f == "" {
			if i == len(fields)-2 {
				break // one trailing ";" is allowed
			}
			return nil, &RecordSyntaxError{Field: "record", Reason: "has an empty field between two semicolons"}
		}
		name, value, ok := strings.Cut(f, "=")
		if !ok {
			return nil, &RecordSyntaxError{Field: "field", Value: f, Reason: "is not of the form name=value"}
		}
		if name == "rua" {
			if seenRUA {
				return nil, &RecordSyntaxError{Field: "rua", Reason: "appears more than once"}
			}
			seenRUA = true
			uris, err := parseRUA(value)
			if err != nil {
				return nil, err
			}
			rec.RUA = uris
			continue
		}
		if err := checkExtension(name, value); err != nil {
			return nil, err
		}
		rec.Extensions = append(rec.Extensions, Extension{Name: name, Value: value})
	}
	if !seenRUA {
		reason := "is missing"
		for _, e := range rec.Extensions {
			if strings.EqualFold(strings.TrimRight(e.Name, " \t"), "rua") {
				reason = fmt.Sprintf("is missing (field names are case-sensitive and take no space before \"=\"; found %q)", e.Name)
			}
		}
		return nil, &RecordSyntaxError{Field: "rua", Reason: reason}
	}
	return rec, nil
}

// parseRUA parses the value of rua: tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri).
func parseRUA(value string) ([]ReportURI, error) {
	parts := strings.Split(value, ",")
	uris := make([]ReportURI, 0, len(parts))
	for i, p := range parts {
		if i > 0 {
			p = strings.TrimLeft(p, " \t")
		}
		if i < len(parts)-1 {
			p = strings.TrimRight(p, " \t")
		}
		u, err := parseReportURI(p)
		if err != nil {
			return nil, err
		}
		uris = append(uris, u)
	}
	return uris, nil
}

func parseReportURI(text string) (ReportURI, error) {
	bad := func(reason string) (ReportURI, error) {
		return ReportURI{}, &RecordSyntaxError{Field: "rua", Value: text, Reason: reason}
	}
	if text == "" {
		return bad("has an empty URI")
	}
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '!':
			return bad(`has an unencoded "!"; write it as %21`)
		case c == '%':
			if i+2 >= len(text) || !isHex(text[i+1]) || !isHex(text[i+2]) {
				return bad("has a \"%\" not followed by two hex digits")
			}
		case !isURIChar(c):
			return bad(fmt.Sprintf("has %q, which a URI cannot contain", c))
		}
	}
	u, err := url.Parse(text)
	if err != nil {
		return bad("is not a valid URI")
	}
	switch u.Scheme {
	case "mailto":
		if _, err := mailtoAddresses(u.Opaque); err != nil {
			return bad("is not a mailto: URI with a valid address")
		}
	case "https":
		if u.Opaque != "" || u.Hostname() == "" {
			return bad("is not an https: URL with a host")
		}
	default:
		return bad("is not a mailto: or https: URI")
	}
	return ReportURI{Text: text, URL: u}, nil
}

// mailtoAddresses decodes the to part of a mailto: URI (RFC 6068 §2) and
// checks that each address is a bare addr-spec.
func mailtoAddresses(opaque string) ([]string, error) {
	if opaque == "" {
		return nil, fmt.Errorf("no address")
	}
	to, err := url.PathUnescape(opaque)
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, s := range strings.Split(to, ",") {
		a, err := mail.ParseAddress(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		if a.Name != "" {
			return nil, fmt.Errorf("display name in mailto: address")
		}
		addrs = append(addrs, a.Address)
	}
	return addrs, nil
}

// checkExtension checks a tlsrpt-extension field (RFC 8460 §3):
// name (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / "."), value
// 1*(%x21-3A / %x3C / %x3E-7E).
func checkExtension(name, value string) error {
	if name == "" || len(name) > 32 || !isAlnum(name[0]) {
		return &RecordSyntaxError{Field: "extension", Value: name, Reason: "is not a valid field name"}
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '_' && c != '-' && c != '.' {
			return &RecordSyntaxError{Field: "extension", Value: name, Reason: "is not a valid field name"}
		}
	}
	if value == "" {
		return &RecordSyntaxError{Field: name, Reason: "has an empty value"}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c <= ' ' || c == '=' || c == ';' || c > '~' {
			return &RecordSyntaxError{Field: name, Value: value, Reason: `has a space, "=" or control character in its value`}
		}
	}
	return nil
}

// encodeForRecord percent-encodes what may not appear literally in a
// tlsrpt-uri: ",", ";", "!" (RFC 8460 §3) and anything outside RFC 3986.
func encodeForRecord(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || (isURIChar(c) && c != '!') {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// isURIChar reports whether c may appear in a tlsrpt-uri outside a
// percent-encoding: RFC 3986 unreserved and reserved characters except ","
// and ";", which separate URIs and fields.
func isURIChar(c byte) bool {
	if isAlnum(c) {
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+=", c) >= 0
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }
