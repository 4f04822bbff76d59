package check

import (
	"context"
	"errors"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/tlsrpt"
)

// tlsrptOutcome is what the check of the TLS-RPT record found.
type tlsrptOutcome struct {
	facts    TLSRPTFacts
	findings []Finding
}

// checkTLSRPT checks the _smtp._tls TXT record (RFC 8460 §3).
func (r *run) checkTLSRPT(ctx context.Context) tlsrptOutcome {
	name := "_smtp._tls." + r.domain
	out := tlsrptOutcome{facts: TLSRPTFacts{Name: name, TXT: []string{}}}
	add := func(code Code, format string, args ...any) {
		out.findings = append(out.findings, newFinding(code, name, format, args...))
	}
	txts, _, err := r.c.dns.TXT(ctx, name)
	switch {
	case dnsx.IsNotFound(err):
		add(tlsrptRecordMissing, "%s has no TXT record", name)
		return out
	case err != nil:
		add(dnsCode(tlsrptDNSError, err), "TXT lookup of %s failed temporarily: %s", name, dnsReason(err))
		return out
	}
	out.facts.TXT = append(out.facts.TXT, txts...)
	attempts, _ := splitAttempts(txts, "v=tlsrpt")
	records := filter(txts, tlsrpt.IsRecord)
	rec, err := tlsrpt.SelectRecord(txts)
	if errors.Is(err, tlsrpt.ErrNoRecord) && !errors.Is(err, tlsrpt.ErrMultipleRecords) && len(attempts) > 0 {
		// Not a record to senders, but meant to be one: say why.
		records = attempts[:1]
		_, err = tlsrpt.ParseRecord(attempts[0])
		if err == nil {
			err = &tlsrpt.RecordSyntaxError{Field: "v", Reason: "must be the first field and read v=TLSRPTv1"}
		}
	}
	var syntax *tlsrpt.RecordSyntaxError
	switch {
	case err == nil:
		for _, u := range rec.RUA {
			out.facts.RUA = append(out.facts.RUA, u.String())
		}
	case errors.Is(err, tlsrpt.ErrMultipleRecords):
		add(tlsrptRecordMultiple, "%d TXT records at %s begin with v=TLSRPTv1: %s", len(records), name, quoteList(records))
	case errors.As(err, &syntax) && syntax.Field == "rua" && syntax.Value != "":
		add(tlsrptRUAInvalid, "TXT record %q: rua URI %q %s", records[0], syntax.Value, syntax.Reason)
	case errors.As(err, &syntax):
		add(tlsrptRecordSyntax, "TXT record %q: %s", records[0], syntaxText(syntax))
	default:
		add(tlsrptRecordMissing, "%s has no TXT record beginning with v=TLSRPTv1", name)
	}
	return out
}

// syntaxText renders a TLS-RPT record syntax error without its RFC
// reference, which the finding carries.
func syntaxText(e *tlsrpt.RecordSyntaxError) string {
	if e.Value == "" {
		return e.Field + " " + e.Reason
	}
	return e.Field + " \"" + e.Value + "\" " + e.Reason
}
