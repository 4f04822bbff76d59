package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
)

// Render writes rep as the JSON of RFC 8460 §4.4 (media type
// application/tlsrpt+json, RFC 8460 §6.4): hyphenated member names,
// date-times in RFC 3339 UTC, mx-host and policy-string as arrays, optional
// members left out when empty. The date range must be set.
func Render(rep *Report) ([]byte, error) {
	if rep == nil {
		return nil, errors.New("tlsrpt: cannot render a nil report")
	}
	if rep.DateRange.Start.IsZero() || rep.DateRange.End.IsZero() {
		return nil, errors.New("tlsrpt: cannot render a report without date range (RFC 8460 §4.4)")
	}
	return json.Marshal(toWire(rep))
}

// RenderGzip is Render followed by gzip compression, the form of
// application/tlsrpt+gzip (RFC 8460 §5.3, §6.5).
func RenderGzip(rep *Report) ([]byte, error) {
	data, err := Render(rep)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
