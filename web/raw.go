package web

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// maxRawDisplay bounds the text of a raw view; the download has it all.
const maxRawDisplay = 1 << 20

// rawView is the data of the raw view of a report or quarantine entry.
type rawView struct {
	Heading string
	// Entry is set for a quarantine entry.
	Entry          *reportstore.QuarantineEntry
	RawType        string
	Size           int
	Text           string
	Notes          []string
	Back, Download string
}

// newRawView prepares raw bytes for reading: decompressed if gzipped,
// indented if JSON, cut at maxRawDisplay, with characters that are not
// text replaced.
func newRawView(raw []byte, rawType string) *rawView {
	v := &rawView{RawType: rawType, Size: len(raw)}
	data := raw
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		plain, err := gunzip(data, maxRawDisplay+1)
		switch {
		case err != nil && len(plain) == 0:
			v.Notes = append(v.Notes, "The bytes look gzip-compressed but could not be decompressed ("+err.Error()+"); shown as they are.")
		case err != nil:
			v.Notes = append(v.Notes, "Decompressed as far as possible: "+err.Error()+".")
			data = plain
		default:
			v.Notes = append(v.Notes, "Received gzip-compressed; shown decompressed.")
			data = plain
		}
	}
	if len(data) > maxRawDisplay {
		data = data[:maxRawDisplay]
		v.Notes = append(v.Notes, "Only the first "+byteSize(maxRawDisplay)+" are shown; the download holds everything.")
	} else if json.Valid(data) && !bytes.Contains(data, []byte("\n")) {
		var out bytes.Buffer
		if json.Indent(&out, data, "", "  ") == nil {
			data = out.Bytes()
			v.Notes = append(v.Notes, "JSON shown indented; the download is as received.")
		}
	}
	v.Text = printable(data)
	return v
}

// gunzip decompresses data, at most limit bytes of output. On error it
// returns what it could read.
func gunzip(data []byte, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, limit))
	if err != nil && !errors.Is(err, io.EOF) {
		return out, err
	}
	return out, nil
}

// printable turns bytes into text for a page: invalid UTF-8 and control
// characters other than line breaks and tabs become U+FFFD.
func printable(data []byte) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r == '\r' || !unicode.IsControl(r) {
			return r
		}
		return unicode.ReplacementChar
	}, strings.ToValidUTF8(string(data), "\uFFFD"))
}

// download sends raw bytes as an attachment named name plus the
// extension of their type, so that the browser saves them and never
// renders them.
func download(w http.ResponseWriter, r *http.Request, name, rawType string, data []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + rawExtension(rawType, data)}))
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Cache-Control", "no-store")
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}

// rawExtension is the file name extension of raw input.
func rawExtension(rawType string, data []byte) string {
	switch rawType {
	case tlsrpt.MediaTypeGzip:
		return ".json.gz"
	case tlsrpt.MediaTypeJSON, "application/json":
		return ".json"
	case "message/rfc822":
		return ".eml"
	}
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		return ".gz"
	}
	return ".bin"
}
