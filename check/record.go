package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/sts"
)

// recordOutcome is what the check of the _mta-sts record found.
type recordOutcome struct {
	facts    RecordFacts
	findings []Finding
	// absent: no record at all, nor anything that looks like one.
	absent bool
	// tempfail: the lookup failed temporarily, with an answer such as
	// SERVFAIL; resolverTimeout: no answer came in time.
	tempfail, resolverTimeout bool
}

// checkRecord checks the _mta-sts TXT record (RFC 8461 §3.1).
func (r *run) checkRecord(ctx context.Context) recordOutcome {
	name := "_mta-sts." + r.domain
	out := recordOutcome{facts: RecordFacts{Name: name, TXT: []string{}}}
	add := func(code Code, format string, args ...any) {
		out.findings = append(out.findings, newFinding(code, name, format, args...))
	}
	rec, txts, err := sts.LookupRecord(ctx, r.c.dns, r.domain)
	out.facts.TXT = append(out.facts.TXT, txts...)
	attempts, others := splitAttempts(txts, "v=stsv1")
	if len(others) > 0 {
		add(stsRecordOtherTXT, "%d other TXT record(s) at %s are ignored: %s", len(others), name, quoteList(others))
	}
	var syntax *sts.RecordSyntaxError
	switch {
	case err == nil:
		out.facts.Valid, out.facts.ID = true, rec.ID
	case errors.Is(err, dnsx.ErrTimeout):
		out.resolverTimeout = true
		add(resolverTimeout, "TXT lookup of %s: %s; the resolver did not answer in time, which says nothing about whether a record exists", name, dnsReason(err))
	case errors.Is(err, sts.ErrDNS):
		// RFC 8461 §3.1 and §5: an answer such as SERVFAIL is the
		// domain's temporary failure, which senders see too.
		out.tempfail = true
		add(stsRecordDNSError, "TXT lookup of %s failed temporarily: %s; this says nothing about whether a record exists", name, dnsReason(err))
	case errors.Is(err, sts.ErrMultipleRecords):
		records := filter(txts, isSTSRecord)
		add(stsRecordMultiple, "%d TXT records at %s begin with \"v=STSv1;\": %s", len(records), name, quoteList(records))
	case errors.As(err, &syntax):
		out.findings = append(out.findings, recordSyntaxFinding(name, filter(txts, isSTSRecord)[0], syntax))
	case len(attempts) > 0:
		// No record begins with "v=STSv1;", but one tries to: say why it
		// does not count.
		if _, perr := sts.ParseRecord(attempts[0]); errors.As(perr, &syntax) {
			out.findings = append(out.findings, recordSyntaxFinding(name, attempts[0], syntax))
			break
		}
		add(stsRecordSyntax, "TXT record %q does not begin with \"v=STSv1;\", so senders ignore it", attempts[0])
	default:
		out.absent = true
		what := "no TXT record"
		if len(txts) > 0 {
			what = "no TXT record beginning with \"v=STSv1;\""
		}
		add(stsRecordMissing, "%s has %s", name, what)
		if apex := r.apexRecord(ctx); apex != "" {
			out.findings = append(out.findings, newFinding(stsRecordAtApex, r.domain,
				"%s has the MTA-STS record %q, but senders look only at %s", r.domain, apex, name))
		}
	}
	return out
}

// apexRecord returns a TXT record of the domain itself that looks like an
// MTA-STS record, or "".
func (r *run) apexRecord(ctx context.Context) string {
	txts, _, err := r.c.dns.TXT(ctx, r.domain)
	if err != nil {
		return ""
	}
	if attempts, _ := splitAttempts(txts, "v=stsv1"); len(attempts) > 0 {
		return attempts[0]
	}
	return ""
}

// isSTSRecord reports whether a TXT record counts as an MTA-STS record when
// one is selected (RFC 8461 §3.1).
func isSTSRecord(txt string) bool { return strings.HasPrefix(txt, "v=STSv1;") }

// filter returns the elements of ss for which keep is true.
func filter(ss []string, keep func(string) bool) []string {
	var out []string
	for _, s := range ss {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// recordSyntaxFinding classifies a syntax error of an _mta-sts record.
func recordSyntaxFinding(name, txt string, e *sts.RecordSyntaxError) Finding {
	code := stsRecordSyntax
	switch {
	case e.Field == "id" && e.Value == "":
		code = stsRecordIDMissing
	case e.Field == "id":
		code = stsRecordIDInvalid
	case e.Field != "" && e.Field != "v":
		code = stsRecordExtensionInvalid
	}
	where := ""
	if e.Field != "" {
		where = e.Field
		if e.Value != "" {
			where += fmt.Sprintf(" %q", e.Value)
		}
		where += ": "
	}
	return newFinding(code, name, "TXT record %q, at offset %d: %s%s", txt, e.Offset, where, e.Reason)
}

// splitAttempts splits TXT records into those that contain marker (in any
// case), which were meant to be records of the kind looked for, and the
// others.
func splitAttempts(txts []string, marker string) (attempts, others []string) {
	for _, t := range txts {
		if strings.Contains(strings.ToLower(t), marker) {
			attempts = append(attempts, t)
		} else {
			others = append(others, t)
		}
	}
	return attempts, others
}

// dnsReason is the DNS error inside err, for messages, such as
// "lookup _mta-sts.example.com. on 192.0.2.53:53: server failure (SERVFAIL)".
// dnsCode returns code, the finding of a DNS lookup that failed with err,
// or resolverTimeout when err is a timeout: no answer came from the
// resolver the check asked, which is not the domain's failure.
func dnsCode(code Code, err error) Code {
	if errors.Is(err, dnsx.ErrTimeout) {
		return resolverTimeout
	}
	return code
}

func dnsReason(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.Error()
	}
	return err.Error()
}

// quoteList renders strings as a comma-separated list of quoted strings.
func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
