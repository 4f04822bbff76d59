package check

import (
	"fmt"
	"io"
	"strings"
)

// TextOptions configure Result.WriteText.
type TextOptions struct {
	// Color adds ANSI colours (for a terminal).
	Color bool
	// Facts adds, in each area, the facts observed, not only findings.
	Facts bool
}

// ANSI escape sequences.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
	ansiGreen  = "\x1b[32m"
	ansiDim    = "\x1b[2m"
)

// textWriter writes a report, remembering the first write error.
type textWriter struct {
	w     io.Writer
	color bool
	err   error
}

func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// paint wraps s in the escape sequence style when colours are on.
func (t *textWriter) paint(style, s string) string {
	if !t.color {
		return s
	}
	return style + s + ansiReset
}

// severityStyle is the colour of a severity.
func severityStyle(s Severity) string {
	switch s {
	case SeverityError:
		return ansiBold + ansiRed
	case SeverityWarning:
		return ansiYellow
	}
	return ansiCyan
}

// WriteText writes the result as a report for people: the verdict line
// first, then, area by area, the facts (with TextOptions.Facts) and each
// finding with its RFC section and fix.
func (r *Result) WriteText(w io.Writer, o TextOptions) error {
	t := &textWriter{w: w, color: o.Color}
	style := ansiBold + ansiGreen
	switch r.Verdict.Status {
	case StatusError:
		style = ansiBold + ansiRed
	case StatusWarning:
		style = ansiBold + ansiYellow
	}
	t.printf("%s: %s\n", t.paint(ansiBold, r.Domain), t.paint(style, r.Verdict.Summary))
	for _, area := range Areas {
		var facts []string
		if o.Facts {
			facts = r.factLines(area)
		}
		var fs []Finding
		for _, f := range r.Findings {
			if f.area == area {
				fs = append(fs, f)
			}
		}
		if len(facts) == 0 && len(fs) == 0 {
			continue
		}
		t.printf("\n%s\n", t.paint(ansiBold, area.Title()))
		for _, l := range facts {
			t.printf("  %s\n", l)
		}
		for _, f := range fs {
			t.finding(f)
		}
	}
	return t.err
}

// finding writes one finding as three lines.
func (t *textWriter) finding(f Finding) {
	label := fmt.Sprintf("%-7s", f.Severity)
	t.printf("  %s %s  %s\n", t.paint(severityStyle(f.Severity), label), t.paint(ansiBold, string(f.Code)), f.Subject)
	t.printf("          %s (%s)\n", f.Message, f.RFC)
	t.printf("          %s %s\n", t.paint(ansiDim, "fix:"), f.Fix)
}

// factLines renders the facts of one area, one line each.
func (r *Result) factLines(area Area) []string {
	f := &r.Facts
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	switch area {
	case AreaRecord:
		txtLines(add, f.Record.Name, f.Record.TXT)
	case AreaPolicyHost:
		h := f.PolicyHost
		if h == nil {
			break
		}
		if len(h.Addresses) == 0 {
			add("%s: no address", h.Name)
			break
		}
		add("%s: %s", h.Name, strings.Join(h.Addresses, ", "))
		if h.TLS != nil {
			add("%s", tlsText(h.TLS))
		}
		if h.Status != 0 {
			add("GET %s: HTTP %d, %s, %d bytes, %d ms", h.URL, h.Status, orNone(h.ContentType), h.Bytes, h.FetchMS)
		}
	case AreaPolicy:
		if p := f.Policy; p != nil {
			add("mode %s, max_age %d (%s), mx %s", p.Mode, p.MaxAge, ageText(p.MaxAge), strings.Join(p.MX, ", "))
		}
	case AreaMX:
		mxLines(add, r.Domain, &f.MX)
	case AreaMXHost:
		for _, h := range f.MX.Hosts {
			for _, a := range h.Addresses {
				add("%s [%s]: %s", h.Host, a.IP, addressText(a))
			}
		}
	case AreaDANE:
		for _, h := range f.MX.Hosts {
			if t := h.TLSA; t != nil {
				auth := "not DNSSEC-authenticated"
				if t.Authenticated {
					auth = "DNSSEC-authenticated"
				}
				add("%s TLSA %s (%s)", t.Name, strings.Join(t.Records, "; "), auth)
			}
		}
	case AreaTLSRPT:
		txtLines(add, f.TLSRPT.Name, f.TLSRPT.TXT)
	}
	return lines
}

// txtLines renders the TXT records at name.
func txtLines(add func(string, ...any), name string, txts []string) {
	if len(txts) == 0 {
		add("%s: no TXT record", name)
	}
	for _, t := range txts {
		add("%s TXT %q", name, t)
	}
}

// mxLines renders the MX records.
func mxLines(add func(string, ...any), domain string, mx *MXFacts) {
	switch {
	case mx.Null:
		add("%s MX 0 . (null MX: accepts no mail)", domain)
	case mx.Implicit:
		add("%s has no MX record; its own address is used", domain)
	}
	for _, h := range mx.Hosts {
		cover := ""
		if h.Covered != nil {
			cover = ", matches the policy"
			if !*h.Covered {
				cover = ", matches NO policy pattern"
			}
		}
		add("%s MX %d %s%s", domain, h.Preference, h.Host, cover)
	}
}

// addressText renders the probe of one address.
func addressText(a AddressFacts) string {
	switch {
	case a.Skipped != "":
		return a.Skipped
	case a.Error != "" && a.TLS == nil:
		return a.Error
	case !a.STARTTLS:
		return fmt.Sprintf("no STARTTLS, %d ms", a.ProbeMS)
	}
	return fmt.Sprintf("STARTTLS, %s, %d ms", tlsText(a.TLS), a.ProbeMS)
}

// tlsText renders a TLS session and its certificate.
func tlsText(t *TLSFacts) string {
	var parts []string
	if t.Version != "" {
		parts = append(parts, t.Version+" "+t.CipherSuite)
	}
	if c := t.Certificate; c != nil {
		parts = append(parts, fmt.Sprintf("certificate for %s issued by %s, valid until %s (%s)",
			strings.Join(c.DNSNames, " "), c.Issuer, c.NotAfter.Format(dateFormat), inDays(c.DaysLeft)))
	}
	return strings.Join(parts, ", ")
}

// ageText renders max_age in days or hours.
func ageText(sec int64) string {
	switch {
	case sec >= 86400 && sec%86400 == 0:
		return plural(int(sec/86400), "day")
	case sec >= 3600:
		return fmt.Sprintf("%.1f hours", float64(sec)/3600)
	}
	return plural(int(sec), "second")
}

func orNone(s string) string {
	if s == "" {
		return "no Content-Type"
	}
	return s
}
