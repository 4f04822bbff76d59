package tlsrpt

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-message"
)

// MessageReport is a TLS report taken from a mail (RFC 8460 §5.3), with
// what the mail said about it.
type MessageReport struct {
	Report *Report
	// Diagnostics lists the deviations Parse tolerated in the report and,
	// with paths starting "mail:", those of the mail around it.
	Diagnostics []Diagnostic

	Domain    string // TLS-Report-Domain header: the policy domain (RFC 8460 §5.3)
	Submitter string // TLS-Report-Submitter header: the reporting domain
	Subject   string // decoded Subject header
	MessageID string // Message-ID header, without angle brackets

	MediaType string // media type of the part the report came from
	Filename  string // file name of that part, if any
	Forwarded bool   // the report was inside a forwarded message/rfc822
}

// Media types of RFC 8460 §6.4 and §6.5.
const (
	MediaTypeJSON = "application/tlsrpt+json"
	MediaTypeGzip = "application/tlsrpt+gzip"
)

// maxMessageDepth bounds the nesting of multiparts and forwarded messages
// that ParseMessage looks into.
const maxMessageDepth = 10

// ParseMessage finds the TLS report in a mail and parses it with Parse.
//
// RFC 8460 §5.3 asks for a multipart/report; report-type=tlsrpt message
// with TLS-Report-Domain and TLS-Report-Submitter headers and the report as
// an application/tlsrpt+gzip (or +json) attachment named per §5.1.
// ParseMessage also finds the report as plain application/tlsrpt, as an
// attachment of another media type whose name ends in .json.gz, .json or
// .gz, as application/gzip or application/json, as a single-part message,
// and inside a forwarded message/rfc822. Every such deviation, a missing
// header, and disagreement between headers, file name and report are
// returned as Diagnostics.
//
// opts.MaxSize caps the report as in Parse, and twice it the whole
// message. The error is ErrNoReport when no part holds a report; when a part
// declared as application/tlsrpt+gzip or +json is broken, it is the error
// of Parse.
func ParseMessage(r io.Reader, opts ParseOptions) (*MessageReport, error) {
	limit := opts.maxSize()
	lr := &io.LimitedReader{R: r, N: 2*limit + 1}
	root, err := message.Read(lr)
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, fmt.Errorf("%w: reading message: %v", ErrNoReport, err)
	}
	w := &mailWalker{limit: limit}
	err = w.walk(root, &mailContext{header: &root.Header}, "", 0)
	switch {
	case lr.N <= 0:
		return nil, fmt.Errorf("%w: message of more than %d bytes", ErrReportTooLarge, 2*limit)
	case errors.Is(err, ErrReportTooLarge):
		return nil, err
	case err != nil && len(w.parts) == 0:
		return nil, fmt.Errorf("%w: reading message: %v", ErrNoReport, err)
	}
	walkErr := err
	part, rep, diags, err := w.parse(opts)
	if err != nil {
		return nil, err
	}
	mr := &MessageReport{
		Report:    rep,
		Domain:    strings.TrimSpace(part.ctx.get("TLS-Report-Domain")),
		Submitter: strings.TrimSpace(part.ctx.get("TLS-Report-Submitter")),
		MediaType: part.mediaType,
		Filename:  part.filename,
		Forwarded: part.ctx.parent != nil,
	}
	mr.Subject, _ = part.ctx.header.Text("Subject")
	mr.MessageID = strings.Trim(strings.TrimSpace(part.ctx.header.Get("Message-ID")), "<>")
	var d diagnoser
	checkMail(mr, part, walkErr, &d)
	mr.Diagnostics = append(d.diags, diags...)
	return mr, nil
}

// mailContext is one message: the outermost one or a forwarded one.
type mailContext struct {
	header *message.Header
	parent *mailContext // the message that forwarded this one
}

// get returns a header of the nearest message that has it.
func (c *mailContext) get(key string) string {
	for ; c != nil; c = c.parent {
		if v := c.header.Get(key); v != "" {
			return v
		}
	}
	return ""
}

// reportPart is a part that may hold a report.
type reportPart struct {
	rank      int // 0 declared TLSRPT, 1 named or typed like a report, 2 plausible
	ctx       *mailContext
	section   string
	mediaType string
	filename  string
	data      []byte
	readErr   error // the part's body ended in an error after data
}

type mailWalker struct {
	limit int64 // on the decoded size of a part
	parts []reportPart
}

// walk collects the parts of e that may hold a report.
func (w *mailWalker) walk(e *message.Entity, ctx *mailContext, section string, depth int) error {
	if depth > maxMessageDepth {
		return nil
	}
	mt, _ := mediaType(&e.Header, "Content-Type")
	if mr := e.MultipartReader(); mr != nil {
		for i := 1; ; i++ {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
				return err
			}
			if err := w.walk(p, ctx, childSection(section, i), depth+1); err != nil {
				return err
			}
		}
	}
	if mt == "message/rfc822" || mt == "message/global" {
		inner, err := message.Read(e.Body)
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return nil // a broken forwarded message holds no report
		}
		return w.walk(inner, &mailContext{header: &inner.Header, parent: ctx}, section, depth+1)
	}
	filename := partFilename(&e.Header)
	rank := reportRank(mt, filename)
	if rank < 0 {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(e.Body, w.limit+1))
	if int64(len(data)) > w.limit {
		return fmt.Errorf("%w: mail %s has more than %d bytes", ErrReportTooLarge, sectionName(section), w.limit)
	}
	if err != nil && len(data) == 0 {
		return nil // nothing decodable: not a usable report
	}
	w.parts = append(w.parts, reportPart{rank: rank, ctx: ctx, section: section, mediaType: mt, filename: filename, data: data, readErr: err})
	return nil
}

// parse tries the collected parts, declared TLS reports first, and returns
// the first that parses.
func (w *mailWalker) parse(opts ParseOptions) (*reportPart, *Report, []Diagnostic, error) {
	slices.SortStableFunc(w.parts, func(a, b reportPart) int { return cmp.Compare(a.rank, b.rank) })
	var firstErr error
	for i := range w.parts {
		p := &w.parts[i]
		rep, diags, err := Parse(bytes.NewReader(p.data), opts)
		if err == nil {
			return p, rep, diags, nil
		}
		if p.rank == 0 {
			return nil, nil, nil, fmt.Errorf("tlsrpt: mail %s (%s): %w", sectionName(p.section), p.mediaType, err)
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("%s (%s): %v", sectionName(p.section), p.mediaType, err)
		}
	}
	if firstErr != nil {
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrNoReport, firstErr)
	}
	return nil, nil, nil, ErrNoReport
}

// reportRank says how likely a part holds a report, -1 for not at all.
func reportRank(mediaType, filename string) int {
	name := strings.ToLower(filename)
	switch {
	case mediaType == MediaTypeGzip || mediaType == MediaTypeJSON:
		return 0
	case mediaType == "application/tlsrpt",
		strings.HasSuffix(name, ".json.gz"), strings.HasSuffix(name, ".json"):
		return 1
	case strings.HasSuffix(name, ".gz"),
		mediaType == "application/gzip", mediaType == "application/x-gzip",
		mediaType == "application/json", mediaType == "text/json":
		return 2
	}
	return -1
}

// checkMail notes how the mail around the report deviates from RFC 8460
// §5.3, and where headers, file name and report disagree. walkErr is how
// the MIME structure broke after the report, if it did.
func checkMail(mr *MessageReport, p *reportPart, walkErr error, d *diagnoser) {
	partPath := "mail:" + sectionName(p.section)
	if err := cmp.Or(p.readErr, walkErr); err != nil {
		d.add(DiagMailMalformed, partPath, "is in a broken MIME structure (%v); the report was read anyway", err)
	}
	if mr.Forwarded {
		d.add(DiagMailForwarded, partPath, "is inside a forwarded message/rfc822; headers are taken from that message")
	}
	if mt, params := mediaType(p.ctx.header, "Content-Type"); mt != "multipart/report" || !strings.EqualFold(params["report-type"], "tlsrpt") {
		d.add(DiagMailNotReport, "mail:Content-Type", "is %q, not multipart/report with report-type=tlsrpt (RFC 8460 §5.3)", p.ctx.header.Get("Content-Type"))
	}
	gzipped := bytes.HasPrefix(p.data, []byte{0x1f, 0x8b})
	switch {
	case p.mediaType != MediaTypeGzip && p.mediaType != MediaTypeJSON:
		d.add(DiagMailMediaType, partPath+".Content-Type", "is %q, not %s or %s (RFC 8460 §5.3)", p.mediaType, MediaTypeGzip, MediaTypeJSON)
	case gzipped != (p.mediaType == MediaTypeGzip):
		d.add(DiagMailMediaType, partPath+".Content-Type", "is %s, but the content is %s", p.mediaType, map[bool]string{true: "gzip", false: "not gzip"}[gzipped])
	}
	for _, h := range []struct{ name, value string }{
		{"TLS-Report-Domain", mr.Domain},
		{"TLS-Report-Submitter", mr.Submitter},
	} {
		if h.value == "" {
			d.add(DiagMailMissingHeader, "mail:"+h.name, "is missing (RFC 8460 §5.3)")
		}
	}
	if mr.Domain != "" && !reportCovers(mr.Report, mr.Domain) {
		d.add(DiagMailMismatch, "mail:TLS-Report-Domain", "%q is not a policy-domain of the report", mr.Domain)
	}
	if p.filename == "" {
		d.add(DiagMailFilename, partPath, "has no file name (RFC 8460 §5.1)")
		return
	}
	fn, err := ParseFilename(p.filename)
	if err != nil {
		d.add(DiagMailFilename, partPath+".filename", "%q is not submitter!policy-domain!begin!end[!unique].json.gz (RFC 8460 §5.1)", p.filename)
		return
	}
	if mr.Submitter != "" && !sameDomain(fn.Submitter, mr.Submitter) {
		d.add(DiagMailMismatch, partPath+".filename", "names submitter %q, but TLS-Report-Submitter is %q", fn.Submitter, mr.Submitter)
	}
	if !reportCovers(mr.Report, fn.PolicyDomain) {
		d.add(DiagMailMismatch, partPath+".filename", "names policy domain %q, which the report does not cover", fn.PolicyDomain)
	}
	dr := mr.Report.DateRange
	if fn.Begin.Unix() != dr.Start.Unix() || fn.End.Unix() != dr.End.Unix() {
		d.add(DiagMailMismatch, partPath+".filename", "names the period %s to %s, but the report covers %s to %s",
			formatTime(fn.Begin), formatTime(fn.End), formatTime(dr.Start), formatTime(dr.End))
	}
}

// reportCovers reports whether domain is a policy domain of rep.
func reportCovers(rep *Report, domain string) bool {
	for _, p := range rep.Policies {
		if sameDomain(p.Policy.Domain, domain) {
			return true
		}
	}
	return false
}

func sameDomain(a, b string) bool {
	norm := func(s string) string { return strings.TrimSuffix(strings.TrimSpace(s), ".") }
	return strings.EqualFold(norm(a), norm(b))
}

// mediaType returns the lower-cased media type of a header field and its
// parameters, tolerating malformed parameters.
func mediaType(h *message.Header, key string) (string, map[string]string) {
	if h.Get(key) == "" {
		return "text/plain", nil // RFC 2045 §5.2
	}
	var t string
	var params map[string]string
	var err error
	if key == "Content-Type" {
		t, params, err = h.ContentType()
	} else {
		t, params, err = h.ContentDisposition()
	}
	if err != nil {
		t, _, _ = strings.Cut(h.Get(key), ";")
	}
	return strings.ToLower(strings.TrimSpace(t)), params
}

// partFilename returns the file name of a part: Content-Disposition
// filename, else Content-Type name.
func partFilename(h *message.Header) string {
	if _, params := mediaType(h, "Content-Disposition"); params["filename"] != "" {
		return params["filename"]
	}
	_, params := mediaType(h, "Content-Type")
	return params["name"]
}

func childSection(parent string, i int) string {
	if parent == "" {
		return strconv.Itoa(i)
	}
	return parent + "." + strconv.Itoa(i)
}

func sectionName(section string) string {
	if section == "" {
		return "body"
	}
	return "part[" + section + "]"
}
