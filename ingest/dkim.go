package ingest

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// submitterOf is the domain a report mail claims to come from: its
// TLS-Report-Submitter header (RFC 8460 §5.3), else the submitter of its
// file name (§5.1).
func submitterOf(mr *tlsrpt.MessageReport) string {
	if mr.Submitter != "" {
		return mr.Submitter
	}
	if fn, err := tlsrpt.ParseFilename(mr.Filename); err == nil {
		return fn.Submitter
	}
	return ""
}

// checkDKIM verifies the DKIM signatures of a mail (RFC 6376) and returns
// the result with the signing domain that decided it and, for a result
// other than a pass, why. A valid signature counts as a pass when its d=
// domain is the submitter's, a parent or a subdomain of it (any valid
// signature passes when the submitter is unknown); valid signatures of
// other domains only are "foreign".
func (in *Ingester) checkDKIM(ctx context.Context, raw []byte, submitter string) (status reportstore.DKIMStatus, domain, reason string) {
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return in.cfg.LookupTXT(ctx, name) },
		// A report mail has one or two signatures; more is abuse.
		MaxVerifications: 5,
	})
	if err != nil {
		return reportstore.DKIMFail, "", err.Error()
	}
	if len(verifs) == 0 {
		return reportstore.DKIMNone, "", "the mail has no DKIM-Signature"
	}
	status, domain = reportstore.DKIMFail, verifs[0].Domain
	if verifs[0].Err != nil {
		reason = verifs[0].Err.Error()
	}
	for _, v := range verifs {
		switch {
		case v.Err == nil && (submitter == "" || aligned(v.Domain, submitter)):
			return reportstore.DKIMPass, v.Domain, ""
		case v.Err == nil:
			status, domain, reason = reportstore.DKIMForeign, v.Domain, fmt.Sprintf("valid signature of %s, not of the submitter %s", v.Domain, submitter)
		case dkim.IsTempFail(v.Err) && status == reportstore.DKIMFail:
			status, domain, reason = reportstore.DKIMTempError, v.Domain, v.Err.Error()
		}
	}
	return status, domain, reason
}

// aligned reports whether two domains are equal or one is a subdomain of
// the other.
func aligned(a, b string) bool {
	a = strings.ToLower(strings.TrimSuffix(a, "."))
	b = strings.ToLower(strings.TrimSuffix(b, "."))
	return a == b || strings.HasSuffix(a, "."+b) || strings.HasSuffix(b, "."+a)
}
