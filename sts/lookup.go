package sts

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// Resolver looks up TXT records. *net.Resolver satisfies it, as does the
// project's internal DNS client. The strings of one TXT record must be
// joined without separator, one string per record (RFC 8461 §3.1), as
// net.Resolver does.
//
// An answer saying the name or its TXT records do not exist must be
// reported as a *net.DNSError with IsNotFound set; any other error is taken
// as a temporary failure.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// RecordName returns the name of the TXT record of a normalized domain,
// "_mta-sts.<domain>." (RFC 8461 §3.1), fully qualified so that no search
// domain applies.
func RecordName(domain string) string {
	return "_mta-sts." + domain + "."
}

// LookupRecord looks up and selects the MTA-STS TXT record of domain (RFC
// 8461 §3.1): it normalizes domain (see NormalizeDomain), queries TXT
// records of RecordName(domain) with r (net.DefaultResolver if r is nil)
// and applies SelectRecord. It does DNS only.
//
// It returns the record, all TXT strings seen (also on a selection or
// syntax error, for display), and an error that is:
//   - ErrInvalidDomain for a bad domain;
//   - ErrNoRecord if the name or its TXT records do not exist, or no
//     record begins with "v=STSv1;" (ErrMultipleRecords if several do);
//   - ErrRecordSyntax (a *RecordSyntaxError) if the record is malformed;
//   - ErrDNS for any other DNS failure (SERVFAIL, timeout, …), wrapping the
//     resolver's error. A temporary failure is never ErrNoRecord: a sender
//     must not take it as the absence of a policy.
func LookupRecord(ctx context.Context, r Resolver, domain string) (*Record, []string, error) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return nil, nil, err
	}
	if r == nil {
		r = net.DefaultResolver
	}
	name := RecordName(d)
	txts, err := r.LookupTXT(ctx, name)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return nil, nil, fmt.Errorf("%w: TXT %s: %w", ErrNoRecord, name, err)
		}
		return nil, nil, fmt.Errorf("%w: TXT %s: %w", ErrDNS, name, err)
	}
	rec, err := SelectRecord(txts)
	if err != nil {
		return nil, txts, fmt.Errorf("TXT %s: %w", name, err)
	}
	return rec, txts, nil
}
