package check

import (
	"cmp"
	"fmt"
	"slices"
)

// Severity says how much a finding matters.
type Severity string

// The severities, from worst to mildest.
const (
	// SeverityError: MTA-STS or delivery is broken (RFC 8461 §5: a sender
	// enforcing the policy would refuse, or would find no usable policy).
	SeverityError Severity = "error"
	// SeverityWarning: it works today but is risky or weakens protection.
	SeverityWarning Severity = "warning"
	// SeverityInfo: a fact worth knowing; nothing to fix.
	SeverityInfo Severity = "info"
)

// Area is the part of a deployment a finding is about. Reports group
// findings by area, in the order of the Area constants.
type Area string

// The areas, in report order.
const (
	AreaRecord     Area = "record"      // the _mta-sts TXT record, RFC 8461 §3.1
	AreaPolicyHost Area = "policy-host" // https://mta-sts.<domain>, RFC 8461 §3.3
	AreaPolicy     Area = "policy"      // the policy file, RFC 8461 §3.2
	AreaMX         Area = "mx"          // the MX records and their coverage, RFC 8461 §4.1
	AreaMXHost     Area = "mx-host"     // each MX host and address on port 25, RFC 8461 §4.2
	AreaDANE       Area = "dane"        // TLSA records of the MX hosts, RFC 7672
	AreaTLSRPT     Area = "tlsrpt"      // the _smtp._tls TXT record, RFC 8460 §3
)

// Areas lists every area in report order.
var Areas = []Area{AreaRecord, AreaPolicyHost, AreaPolicy, AreaMX, AreaMXHost, AreaDANE, AreaTLSRPT}

// Title is the heading of the area in reports, such as "MTA-STS record".
func (a Area) Title() string {
	switch a {
	case AreaRecord:
		return "MTA-STS record"
	case AreaPolicyHost:
		return "Policy host"
	case AreaPolicy:
		return "Policy"
	case AreaMX:
		return "MX records"
	case AreaMXHost:
		return "MX hosts"
	case AreaDANE:
		return "DANE"
	case AreaTLSRPT:
		return "TLS-RPT"
	}
	return string(a)
}

// Code is the stable, kebab-case identifier of a kind of finding, such as
// "mx-not-covered". Codes never change meaning; every code is described in
// the catalogue (see Catalogue).
type Code string

// Finding is one thing a check found about a domain.
type Finding struct {
	// Code identifies the kind of finding; see Catalogue.
	Code Code `json:"code"`
	// Severity is the code's severity.
	Severity Severity `json:"severity"`
	// Subject is what the finding is about: a DNS name such as
	// "_mta-sts.example.com", the policy host, or an MX host name,
	// followed by " [address]" for a finding about one address.
	Subject string `json:"subject"`
	// Message says what was found, in one sentence with the observed value.
	Message string `json:"message"`
	// RFC names the rule, such as "RFC 8461 §4.1".
	RFC string `json:"rfc"`
	// Fix says what to change, in one sentence.
	Fix string `json:"fix"`

	area Area
	host string // MX host name, for findings about one MX host or address
	addr string // IP address, for findings about one address of an MX host
}

// Area returns the area the finding belongs to.
func (f Finding) Area() Area { return f.area }

// Blocks reports whether the finding means an MX host fails the validation
// of RFC 8461 §4, so that a sender enforcing the policy would not deliver
// to it.
func (f Finding) Blocks() bool {
	d, ok := lookup(f.Code)
	return ok && d.Blocks
}

// newFinding makes a finding of code, taking its severity, area, RFC
// section and fix from the catalogue. An unknown code is a programming
// error and panics, so that tests catch it.
func newFinding(code Code, subject, format string, args ...any) Finding {
	d, ok := lookup(code)
	if !ok {
		panic("check: finding code " + string(code) + " is not in the catalogue")
	}
	return Finding{
		Code:     code,
		Severity: d.Severity,
		Subject:  subject,
		Message:  fmt.Sprintf(format, args...),
		RFC:      d.RFC,
		Fix:      d.Fix,
		area:     d.Area,
	}
}

// sortFindings orders findings for reports: by area, then subject, then
// catalogue order of the code, then message.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(slices.Index(Areas, a.area), slices.Index(Areas, b.area)),
			cmp.Compare(a.host, b.host),
			cmp.Compare(a.Subject, b.Subject),
			cmp.Compare(index[a.Code], index[b.Code]),
			cmp.Compare(a.Message, b.Message),
		)
	})
}
