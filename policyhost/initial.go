package policyhost

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
)

// InitialTTL is the TTL of the zone-file lines of an Initial. An hour lets
// a new id reach senders quickly after the policy changes.
const InitialTTL = 3600

// Initial is a first policy for a domain with the DNS records that publish
// it: what "mtasts policy init" writes for a policy served elsewhere.
type Initial struct {
	Domain string
	// Policy and Text are the policy and its file.
	Policy *sts.Policy
	Text   string
	// Warnings are what the sender's parser says of the policy.
	Warnings []sts.Warning
	// Record is the _mta-sts record with a new id, TLSRPT the
	// _smtp._tls record.
	Record *sts.Record
	TLSRPT *tlsrpt.Record
}

// NewInitial builds the policy of domain and its records, checked by the
// parsers senders use: what is written must parse. rua defaults to
// mailto:tlsrpt@domain; the id is made from now.
func NewInitial(domain string, mode sts.Mode, maxAge int64, mx, rua []string, now time.Time) (*Initial, error) {
	domain, err := sts.NormalizeDomain(domain)
	if err != nil {
		return nil, fmt.Errorf("domain %q: %w", domain, err)
	}
	in := &Initial{Domain: domain, Policy: &sts.Policy{Version: "STSv1", Mode: mode, MaxAge: maxAge, MX: mx}}
	in.Text = in.Policy.String()
	if _, in.Warnings, err = sts.ParsePolicyLint([]byte(in.Text)); err != nil {
		return nil, fmt.Errorf("the policy would be invalid: %w", err)
	}
	if len(rua) == 0 {
		rua = []string{"mailto:tlsrpt@" + domain}
	}
	if in.TLSRPT, err = tlsrpt.ParseRecord("v=TLSRPTv1; rua=" + strings.Join(rua, ",")); err != nil {
		return nil, fmt.Errorf("rua: %w", err)
	}
	in.Record = &sts.Record{Version: "STSv1", ID: NewID(now, "")}
	return in, nil
}

// WriteRecords writes the policy's warnings, its DNS records as zone-file
// lines with InitialTTL, and how to serve the file.
func (in *Initial) WriteRecords(w io.Writer) error {
	t := &textout.Writer{W: w}
	for _, warn := range in.Warnings {
		t.Printf("warning: %s\n", warn)
	}
	if len(in.Warnings) > 0 {
		t.Printf("\n")
	}
	d := in.Domain
	t.Printf("; DNS records to publish in the %s zone:\n", d)
	t.Printf("_mta-sts.%s.\t%d\tIN\tTXT\t%s\n", d, InitialTTL, QuoteTXT(in.Record.String()))
	t.Printf("_smtp._tls.%s.\t%d\tIN\tTXT\t%s\n", d, InitialTTL, QuoteTXT(in.TLSRPT.String()))
	t.Printf(";\n; Serve the policy file at https://mta-sts.%s/.well-known/mta-sts.txt\n", d)
	t.Printf("; with Content-Type text/plain, status 200 and no redirect; mta-sts.%s needs\n", d)
	t.Printf("; an A/AAAA (or CNAME) record and a certificate valid for that name.\n")
	t.Printf("; Publish the TXT record only once the file is served; change its id whenever the policy changes.\n")
	return t.Err
}
