package web

import (
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// How numbers, dates and labels read on the pages.

// percent formats a rate between 0 and 1 with one decimal, or as many
// more as it takes not to round a failure away: 0.99996 is "99.99%",
// never "100%", and a tiny rate is never "0%".
func percent(rate float64) string {
	switch {
	case rate >= 1:
		return "100%"
	case rate <= 0:
		return "0%"
	}
	p := rate * 100
	for dec := 1; dec <= 3; dec++ {
		s := strconv.FormatFloat(p, 'f', dec, 64)
		if v, _ := strconv.ParseFloat(s, 64); v > 0 && v < 100 {
			return s + "%"
		}
	}
	if p > 50 {
		return "99.999%"
	}
	return "0.001%"
}

// formatCount writes n with thousands separators: 1,234,567.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// compactNumber writes an axis value briefly: 500, 1.5k, 2M.
func compactNumber(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(tidy(v/1e6), 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(tidy(v/1e3), 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(tidy(v), 'f', -1, 64)
}

// trendView is the change of a success rate as shown: an arrow and
// percentage points, with a class for its colour.
type trendView struct {
	Text, Class string
}

// trend presents DomainOverview.Trend.
func trend(t float64) trendView {
	pp := t * 100
	switch {
	case math.Abs(pp) < 0.05:
		return trendView{"steady", "trend-flat"}
	case pp > 0:
		return trendView{"▲ +" + strconv.FormatFloat(pp, 'f', 1, 64) + " pp", "trend-up"}
	}
	return trendView{"▼ " + strconv.FormatFloat(pp, 'f', 1, 64) + " pp", "trend-down"}
}

// policyBadge is the label and class of a domain's policy as senders saw
// it in the latest report.
type policyBadge struct {
	Label, Class string
}

func badge(o *reportstore.DomainOverview) policyBadge {
	switch o.PolicyType {
	case tlsrpt.PolicySTS:
		switch o.Mode {
		case "enforce", "testing", "none":
			return policyBadge{"MTA-STS " + o.Mode, "mode-" + o.Mode}
		}
		return policyBadge{"MTA-STS", "mode-other"}
	case tlsrpt.PolicyTLSA:
		return policyBadge{"DANE", "mode-enforce"}
	case tlsrpt.PolicyNoPolicyFound:
		return policyBadge{"no policy", "mode-none"}
	}
	return policyBadge{string(o.PolicyType), "mode-other"}
}

// modeNote says what failures meant for mail under the domain's policy.
func modeNote(o *reportstore.DomainOverview) string {
	switch {
	case o.PolicyType == tlsrpt.PolicySTS && o.Mode == "enforce":
		return "The policy is in enforce mode: senders did not deliver over these failed sessions. They tried another MX or retried later, and after days of failures they bounce the mail."
	case o.PolicyType == tlsrpt.PolicySTS && o.Mode == "testing":
		return "The policy is in testing mode: senders reported these failures but delivered the mail anyway. In enforce mode they would have refused to deliver over these sessions; fix them before switching."
	case o.PolicyType == tlsrpt.PolicySTS && o.Mode == "none":
		return "The policy is in mode none: senders ignore it and deliver as without MTA-STS."
	case o.PolicyType == tlsrpt.PolicyTLSA:
		return "Senders validated the MX with DANE: they do not deliver over sessions that fail validation."
	case o.PolicyType == tlsrpt.PolicyNoPolicyFound:
		return "Senders found no MTA-STS or DANE policy: they used TLS when they could and delivered without it otherwise."
	}
	return ""
}

// richText escapes s for HTML and sets the parts in `backquotes` as code.
func richText(s string) template.HTML {
	parts := strings.Split(template.HTMLEscapeString(s), "`")
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 && i < len(parts)-1 {
			b.WriteString("<code>" + p + "</code>")
			continue
		}
		if i%2 == 1 {
			b.WriteString("`")
		}
		b.WriteString(p)
	}
	return template.HTML(b.String())
}

// byteSize writes a size in bytes for people.
func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.Itoa(n) + " bytes"
}

// formatTime writes an instant in UTC to the minute.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// share is part of total, between 0 and 1, for a <meter>.
func share(part, total int64) float64 {
	if total <= 0 {
		return 0
	}
	return float64(part) / float64(total)
}
