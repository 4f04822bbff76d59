package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/sts"
)

// Verdicts of policy fetch: what a sending MTA without a cached policy
// would do with the domain.
const (
	verdictEnforce  = "enforce"   // deliver only over validated TLS to matching MX hosts
	verdictTesting  = "testing"   // deliver anyway, report failures
	verdictNone     = "none"      // as if no policy
	verdictNoPolicy = "no-policy" // no usable record or policy: opportunistic TLS
	verdictTempfail = "tempfail"  // temporary DNS failure: try again later
)

// fetchResult is the JSON output of policy fetch.
type fetchResult struct {
	Domain   string      `json:"domain"`
	Verdict  string      `json:"verdict"`
	Record   recordJSON  `json:"record"`
	Fetch    *fetchJSON  `json:"fetch,omitempty"`
	Policy   *policyJSON `json:"policy,omitempty"`
	Problems []problem   `json:"problems"`
}

type recordJSON struct {
	Name  string   `json:"name"`
	TXT   []string `json:"txt"`
	ID    string   `json:"id,omitempty"`
	Valid bool     `json:"valid"`
}

type fetchJSON struct {
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

func newPolicyFetchCmd(e *env) *cobra.Command {
	var nf netFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "fetch DOMAIN",
		Short: "Show a domain's policy exactly as a sending MTA sees it",
		Long: `Look up the _mta-sts TXT record of DOMAIN (RFC 8461 §3.1), fetch its policy
from https://mta-sts.DOMAIN/.well-known/mta-sts.txt with the rules senders
apply (RFC 8461 §3.3: valid certificate for the policy host, status 200 only,
no redirects, text/plain, at most 64 KiB), parse it (§3.2), and show every
rule that fails with its RFC section.

The policy is fetched even when the record is missing or invalid, to help
diagnosis; the verdict still says what a sender would do: enforce, testing,
none, no-policy (no usable record or policy) or tempfail (DNS failed
temporarily: senders try again later).

Exit status: 0 a valid policy, 1 valid with warnings, 2 no usable policy,
3 the command could not run.`,
		Example: `  mtasts policy fetch example.com
  mtasts policy fetch --json example.com
  mtasts policy fetch --resolver 127.0.0.1:5353 --ca-file test-ca.pem example.test`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPolicyFetch(cmd.Context(), e, args[0], &nf, asJSON)
		},
	}
	nf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func runPolicyFetch(ctx context.Context, e *env, domainArg string, nf *netFlags, asJSON bool) error {
	domain, err := sts.NormalizeDomain(domainArg)
	if err != nil {
		return usageError(fmt.Errorf("domain %q: %w", domainArg, err))
	}
	resolver, err := nf.liveDNSClient(ctx)
	if err != nil {
		return err
	}
	opts, err := nf.fetchOptions(e)
	if err != nil {
		return usageError(err)
	}

	res := &fetchResult{Domain: domain, Record: recordJSON{Name: "_mta-sts." + domain, TXT: []string{}}, Problems: []problem{}}
	lctx, cancel := context.WithTimeout(ctx, nf.timeout)
	rec, txts, recErr := sts.LookupRecord(lctx, resolver, domain)
	cancel()
	res.Record.TXT = append(res.Record.TXT, txts...)
	if recErr != nil {
		res.Problems = append(res.Problems, errorProblem(recErr))
	} else {
		res.Record.Valid, res.Record.ID = true, rec.ID
	}

	fetched, fetchErr := sts.FetchPolicy(ctx, domain, opts)
	res.Fetch = newFetchJSON(fetched)
	if fetchErr != nil {
		res.Problems = append(res.Problems, errorProblem(fetchErr))
	}
	if fetched != nil && fetched.Policy != nil {
		res.Policy = newPolicyJSON(fetched.Policy)
		res.Problems = append(res.Problems, warningProblems(fetched.Warnings)...)
	}

	sortProblems(res.Problems)
	switch {
	case errors.Is(recErr, sts.ErrDNS):
		res.Verdict = verdictTempfail
	case recErr != nil || fetchErr != nil:
		res.Verdict = verdictNoPolicy
	default:
		res.Verdict = string(fetched.Policy.Mode)
	}

	if asJSON {
		if err := textout.WriteJSON(e.stdout, res); err != nil {
			return err
		}
	} else if err := printFetch(e, res); err != nil {
		return err
	}
	return exitWith(verdictCode(res.Problems))
}

func newFetchJSON(f *sts.Fetched) *fetchJSON {
	if f == nil {
		return nil
	}
	j := &fetchJSON{
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

var verdictText = map[string]string{
	verdictEnforce:  "senders deliver only over validated TLS to MX hosts matching the policy",
	verdictTesting:  "senders deliver anyway and report TLS failures",
	verdictNone:     "senders act as if the domain had no policy",
	verdictNoPolicy: "senders find no usable policy and fall back to opportunistic TLS",
	verdictTempfail: "DNS failed temporarily; senders without a cached policy try again later",
}

func printFetch(e *env, r *fetchResult) error {
	w := &textout.Writer{W: e.stdout}
	w.Printf("%s: %s — %s\n\n", r.Domain, r.Verdict, verdictText[r.Verdict])
	switch len(r.Record.TXT) {
	case 0:
		w.Printf("%-12s %s: no TXT record\n", "record", r.Record.Name)
	default:
		for _, t := range r.Record.TXT {
			w.Printf("%-12s %s TXT %q\n", "record", r.Record.Name, t)
		}
	}
	if f := r.Fetch; f != nil {
		w.Printf("%-12s %s\n", "policy URL", f.URL)
		if f.TLSVersion != "" {
			w.Printf("%-12s %s, certificate %s, valid until %s\n", "TLS", f.TLSVersion, f.CertSubject, f.CertExpiry)
		}
		if f.Status != 0 {
			w.Printf("%-12s %d, %s, %d bytes, %d ms\n", "HTTP", f.Status, textout.OrDash(f.ContentType), f.Bytes, f.DurationMS)
		}
	}
	if p := r.Policy; p != nil {
		w.Printf("%-12s mode %s, max_age %d, mx %s\n", "policy", p.Mode, p.MaxAge, strings.Join(p.MX, ", "))
	}
	if f := r.Fetch; f != nil && f.Text != "" {
		w.Printf("\n")
		for _, line := range strings.Split(strings.TrimRight(strings.ReplaceAll(f.Text, "\r\n", "\n"), "\n"), "\n") {
			w.Printf("  | %s\n", line)
		}
	}
	if len(r.Problems) > 0 {
		w.Printf("\n")
		for _, p := range r.Problems {
			w.Printf("%s: %s\n", p.Severity, p.text)
		}
	}
	return w.Err
}
