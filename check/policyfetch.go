package check

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/sts"
)

// What a sender does with a domain's policy, in PolicyFetch.Verdict.
const (
	VerdictEnforce  = "enforce"   // deliver only over validated TLS to matching MX hosts
	VerdictTesting  = "testing"   // deliver anyway, report failures
	VerdictNone     = "none"      // as if no policy
	VerdictNoPolicy = "no-policy" // no usable record or policy: opportunistic TLS
	VerdictTempfail = "tempfail"  // temporary DNS failure: try again later
)

// PolicyFetch is a domain's policy exactly as a sending MTA sees it: the
// record, the fetch, the parsed policy, every problem, and the verdict.
type PolicyFetch struct {
	Domain   string      `json:"domain"`
	Verdict  string      `json:"verdict"`
	Record   RecordView  `json:"record"`
	Fetch    *FetchView  `json:"fetch,omitempty"`
	Policy   *PolicyView `json:"policy,omitempty"`
	Problems []Problem   `json:"problems"`
}

// RecordView is the _mta-sts TXT record set of a PolicyFetch.
type RecordView struct {
	Name  string   `json:"name"`
	TXT   []string `json:"txt"`
	ID    string   `json:"id,omitempty"`
	Valid bool     `json:"valid"`
}

// FetchView is the HTTPS fetch of a PolicyFetch.
type FetchView struct {
	URL         string `json:"url"`
	Status      int    `json:"status,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Bytes       int    `json:"bytes"`
	TLSVersion  string `json:"tls_version,omitempty"`
	CertSubject string `json:"cert_subject,omitempty"`
	CertExpiry  string `json:"cert_not_after,omitempty"`
	DurationMS  int64  `json:"duration_ms"`
	Text        string `json:"text,omitempty"`
}

// FetchPolicy looks up the _mta-sts record of domain (RFC 8461 §3.1, at
// most timeout) and fetches its policy with the rules senders apply
// (§3.3), even when the record is missing or invalid, to help diagnosis;
// the verdict still says what a sender would do.
func FetchPolicy(ctx context.Context, dns sts.Resolver, domain string, opts sts.FetchOptions, timeout time.Duration) *PolicyFetch {
	res := &PolicyFetch{Domain: domain, Record: RecordView{Name: "_mta-sts." + domain, TXT: []string{}}, Problems: []Problem{}}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	rec, txts, recErr := sts.LookupRecord(lctx, dns, domain)
	cancel()
	res.Record.TXT = append(res.Record.TXT, txts...)
	if recErr != nil {
		res.Problems = append(res.Problems, errorProblem(recErr))
	} else {
		res.Record.Valid, res.Record.ID = true, rec.ID
	}
	fetched, fetchErr := sts.FetchPolicy(ctx, domain, opts)
	res.Fetch = newFetchView(fetched)
	if fetchErr != nil {
		res.Problems = append(res.Problems, errorProblem(fetchErr))
	}
	if fetched != nil && fetched.Policy != nil {
		res.Policy = newPolicyView(fetched.Policy)
		res.Problems = append(res.Problems, warningProblems(fetched.Warnings)...)
	}
	sortProblems(res.Problems)
	switch {
	case errors.Is(recErr, sts.ErrDNS):
		res.Verdict = VerdictTempfail
	case recErr != nil || fetchErr != nil:
		res.Verdict = VerdictNoPolicy
	default:
		res.Verdict = string(fetched.Policy.Mode)
	}
	return res
}

// Status is StatusError when there is no usable policy, StatusWarning for
// a usable one with warnings, else StatusOK.
func (r *PolicyFetch) Status() string { return problemsStatus(r.Problems) }

// newFetchView returns the view of a fetch, nil for nil.
func newFetchView(f *sts.Fetched) *FetchView {
	if f == nil {
		return nil
	}
	j := &FetchView{
		URL:         f.URL,
		Status:      f.Status,
		ContentType: f.ContentType,
		Bytes:       len(f.Body),
		DurationMS:  f.Duration.Milliseconds(),
		Text:        string(f.Body),
	}
	if f.TLS != nil {
		j.TLSVersion = tls.VersionName(f.TLS.Version)
		if len(f.TLS.PeerCertificates) > 0 {
			leaf := f.TLS.PeerCertificates[0]
			j.CertSubject = leaf.Subject.String()
			j.CertExpiry = leaf.NotAfter.UTC().Format("2006-01-02 15:04:05Z")
		}
	}
	return j
}

// verdictText says what each verdict means for senders.
var verdictText = map[string]string{
	VerdictEnforce:  "senders deliver only over validated TLS to MX hosts matching the policy",
	VerdictTesting:  "senders deliver anyway and report TLS failures",
	VerdictNone:     "senders act as if the domain had no policy",
	VerdictNoPolicy: "senders find no usable policy and fall back to opportunistic TLS",
	VerdictTempfail: "DNS failed temporarily; senders without a cached policy try again later",
}

// WriteText writes the result for people: the verdict, the record, the
// fetch, the policy file and the problems. What the domain's servers sent
// is escaped for the terminal.
func (r *PolicyFetch) WriteText(w io.Writer) error {
	t := &textout.Writer{W: w}
	t.Printf("%s: %s — %s\n\n", r.Domain, r.Verdict, verdictText[r.Verdict])
	if len(r.Record.TXT) == 0 {
		t.Printf("%-12s %s: no TXT record\n", "record", r.Record.Name)
	}
	for _, txt := range r.Record.TXT {
		t.Printf("%-12s %s TXT %q\n", "record", r.Record.Name, txt)
	}
	if f := r.Fetch; f != nil {
		t.Printf("%-12s %s\n", "policy URL", f.URL)
		if f.TLSVersion != "" {
			t.Textf("%-12s %s, certificate %s, valid until %s\n", "TLS", f.TLSVersion, f.CertSubject, f.CertExpiry)
		}
		if f.Status != 0 {
			t.Textf("%-12s %d, %s, %d bytes, %d ms\n", "HTTP", f.Status, textout.OrDash(f.ContentType), f.Bytes, f.DurationMS)
		}
	}
	if p := r.Policy; p != nil {
		t.Textf("%-12s mode %s, max_age %d, mx %s\n", "policy", p.Mode, p.MaxAge, strings.Join(p.MX, ", "))
	}
	if f := r.Fetch; f != nil && f.Text != "" {
		t.Printf("\n")
		for _, line := range strings.Split(strings.TrimRight(strings.ReplaceAll(f.Text, "\r\n", "\n"), "\n"), "\n") {
			t.Textf("  | %s\n", line)
		}
	}
	if len(r.Problems) > 0 {
		t.Printf("\n")
		for _, p := range r.Problems {
			t.Textf("%s: %s\n", p.Severity, p.text)
		}
	}
	return t.Err
}
