package tlsrpt

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// fromWire converts a decoded report to the Go model, noting every
// tolerated deviation from RFC 8460 §4.4 in d. It fails only for what no
// reader can work around: nothing that identifies the report, no usable
// date range, no policies array.
func fromWire(w *wireReport, d *diagnoser) (*Report, error) {
	rep := &Report{
		OrganizationName: w.OrganizationName,
		ContactInfo:      w.ContactInfo,
		ReportID:         w.ReportID,
	}
	if w.OrganizationName == "" && w.ReportID == "" {
		return nil, &ReportError{Reason: "has neither organization-name nor report-id, so it is not a TLS report (RFC 8460 §4.4)"}
	}
	for _, m := range []struct{ name, value string }{
		{"organization-name", w.OrganizationName},
		{"contact-info", w.ContactInfo},
		{"report-id", w.ReportID},
	} {
		if m.value == "" {
			d.add(DiagMissingField, m.name, "is missing or empty (RFC 8460 §4.4)")
		}
	}
	if w.DateRange == nil {
		return nil, &ReportError{Path: "date-range", Reason: "is missing (RFC 8460 §4.4)"}
	}
	dr, err := convertDateRange(w.DateRange, d)
	if err != nil {
		return nil, err
	}
	rep.DateRange = dr
	if w.Policies == nil {
		return nil, &ReportError{Path: "policies", Reason: "is missing (RFC 8460 §4.4)"}
	}
	if len(w.Policies) == 0 {
		d.add(DiagNoPolicies, "policies", "is empty, so the report counts no sessions")
	}
	for i, wp := range w.Policies {
		pr, err := convertPolicyResult(wp, fmt.Sprintf("policies[%d]", i), d)
		if err != nil {
			return nil, err
		}
		rep.Policies = append(rep.Policies, pr)
	}
	return rep, nil
}

func convertDateRange(w *wireDateRange, d *diagnoser) (DateRange, error) {
	start, err := parseDateTime(w.Start, "date-range.start-datetime", d)
	if err != nil {
		return DateRange{}, err
	}
	end, err := parseDateTime(w.End, "date-range.end-datetime", d)
	if err != nil {
		return DateRange{}, err
	}
	dr := DateRange{Start: start, End: end}
	switch _, oneDay := dr.Day(); {
	case end.Before(start):
		d.add(DiagRangeInverted, "date-range", "ends (%s) before it starts (%s)", w.End, w.Start)
	case !oneDay:
		d.add(DiagNotOneDay, "date-range", "runs from %s to %s, not over one UTC day (RFC 8460 §4.1)", w.Start, w.End)
	case end.Equal(start.Add(24 * time.Hour)):
		d.add(DiagEndAtNextMidnight, "date-range.end-datetime", "is midnight of the next day; the report covers %s (RFC 8460 §4.1)", start.Format(time.DateOnly))
	}
	return dr, nil
}

// parseDateTime reads an RFC 3339 date-time (RFC 8460 §4.4), tolerating a
// missing UTC offset (read as UTC), a space for "T" and an offset without
// colon. The result is in UTC.
func parseDateTime(s, path string, d *diagnoser) (time.Time, error) {
	if s == "" {
		return time.Time{}, &ReportError{Path: path, Reason: "is missing (RFC 8460 §4.4)"}
	}
	t, err := readDateTime(s, path, d)
	if err != nil {
		return time.Time{}, err
	}
	// Reports describe the time since TLSRPT exists; RFC 3339 years have
	// four digits.
	if y := t.Year(); y < 1970 || y > 9999 {
		return time.Time{}, &ReportError{Path: path, Reason: fmt.Sprintf("%q is out of range", s)}
	}
	return t, nil
}

func readDateTime(s, path string, d *diagnoser) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	norm := s
	if len(norm) > 10 && (norm[10] == ' ' || norm[10] == 't') {
		norm = norm[:10] + "T" + norm[11:]
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, norm); err == nil {
			d.add(DiagTimeNonstandard, path, "%q is not RFC 3339; read as %s", s, formatTime(t))
			return t.UTC(), nil
		}
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", norm); err == nil {
		d.add(DiagTimeNoZone, path, "%q has no UTC offset; read as UTC (RFC 8460 §4.4 asks for RFC 3339)", s)
		return t, nil
	}
	return time.Time{}, &ReportError{Path: path, Reason: fmt.Sprintf("%q is not an RFC 3339 date-time (RFC 8460 §4.4)", s)}
}

func convertPolicyResult(w wirePolicyResult, path string, d *diagnoser) (PolicyResult, error) {
	pr := PolicyResult{Policy: convertPolicy(w.Policy, path+".policy", d)}
	if w.Summary == nil {
		d.add(DiagMissingField, path+".summary", "is missing; counts read as 0 (RFC 8460 §4.4)")
	} else {
		var errOK, errFailed error
		pr.Summary.Successful, errOK = count(w.Summary.Successful, path+".summary.total-successful-session-count", d)
		pr.Summary.Failed, errFailed = count(w.Summary.Failed, path+".summary.total-failure-session-count", d)
		if err := cmp.Or(errOK, errFailed); err != nil {
			return PolicyResult{}, err
		}
	}
	var failed Summary
	for j, wf := range w.FailureDetails {
		f, err := convertFailureDetail(wf, fmt.Sprintf("%s.failure-details[%d]", path, j), d)
		if err != nil {
			return PolicyResult{}, err
		}
		failed = failed.Add(Summary{Failed: f.FailedSessionCount})
		pr.FailureDetails = append(pr.FailureDetails, f)
	}
	if len(pr.FailureDetails) > 0 && w.Summary != nil && failed.Failed != pr.Summary.Failed {
		d.add(DiagCountMismatch, path+".summary.total-failure-session-count",
			"is %d but the failure-details add up to %d", pr.Summary.Failed, failed.Failed)
	}
	return pr, nil
}

func convertPolicy(w *wirePolicy, path string, d *diagnoser) Policy {
	if w == nil {
		d.add(DiagMissingField, path, "is missing (RFC 8460 §4.4)")
		return Policy{}
	}
	p := Policy{Type: PolicyType(w.Type), Domain: w.Domain}
	switch {
	case w.Type == "":
		d.add(DiagMissingField, path+".policy-type", "is missing (RFC 8460 §4.4)")
	case !p.Type.Known():
		d.add(DiagUnknownPolicyType, path+".policy-type", "%q is not tlsa, sts or no-policy-found; kept as is (RFC 8460 §4.4)", w.Type)
	}
	if w.Domain == "" {
		d.add(DiagMissingField, path+".policy-domain", "is missing (RFC 8460 §4.4)")
	}
	p.Strings = policyStrings(w.Strings, p.Type, path+".policy-string", d)
	p.MXHosts = mxHosts(w.MXHost, path+".mx-host", d)
	return p
}

// policyStrings reads policy-string: per RFC 8460 §4.4 an array with one
// policy line or one TLSA record per element.
func policyStrings(l stringList, t PolicyType, path string, d *diagnoser) []string {
	switch l.shape {
	case shapeAbsent, shapeNull:
		if t != PolicyNoPolicyFound {
			d.add(DiagMissingField, path, "is missing (RFC 8460 §4.4)")
		}
		return nil
	case shapeOther:
		d.add(DiagWrongType, path, "is neither an array of strings nor a string; ignored (RFC 8460 §4.4)")
		return nil
	}
	if decoded, ok := decodeEncodedArray(l.values); ok {
		d.add(DiagPolicyStringEncoded, path, "is one string holding a JSON array of %d strings; decoded (RFC 8460 §4.4)", len(decoded))
		return decoded
	}
	if l.shape == shapeString {
		lines := strings.FieldsFunc(l.values[0], func(r rune) bool { return r == '\n' || r == '\r' })
		d.add(DiagPolicyStringString, path, "is a string, not an array of strings; read as %d lines (RFC 8460 §4.4)", len(lines))
		return lines
	}
	return l.values
}

// decodeEncodedArray decodes a single string that holds a JSON array of
// strings, however deeply it was encoded.
func decodeEncodedArray(vs []string) ([]string, bool) {
	decoded := false
	for len(vs) == 1 {
		s := strings.TrimSpace(vs[0])
		var inner []string
		if !strings.HasPrefix(s, "[") || json.Unmarshal([]byte(s), &inner) != nil {
			break
		}
		vs, decoded = inner, true
	}
	return vs, decoded
}

// mxHosts reads mx-host: per RFC 8460 §4.4 and erratum 6241 an array of MX
// host names or patterns.
func mxHosts(l stringList, path string, d *diagnoser) []string {
	switch l.shape {
	case shapeAbsent, shapeNull:
		return nil
	case shapeOther:
		d.add(DiagWrongType, path, "is neither an array of strings nor a string; ignored (RFC 8460 §4.4)")
		return nil
	case shapeString:
		d.add(DiagMXHostString, path, "is a string, not an array (RFC 8460 §4.4, erratum 6241)")
	}
	hosts := make([]string, 0, len(l.values))
	for j, h := range l.values {
		if _, ok := strings.CutPrefix(h, "mx:"); ok {
			rest := h
			for ok {
				rest, ok = strings.CutPrefix(strings.TrimSpace(rest), "mx:")
			}
			rest = strings.TrimSpace(rest)
			d.add(DiagMXHostPrefixed, fmt.Sprintf("%s[%d]", path, j), "%q keeps the \"mx:\" of the policy line; read as %q", h, rest)
			h = rest
		}
		hosts = append(hosts, h)
	}
	return hosts
}

func convertFailureDetail(w wireFailureDetail, path string, d *diagnoser) (FailureDetail, error) {
	n, err := count(w.FailedSessionCount, path+".failed-session-count", d)
	if err != nil {
		return FailureDetail{}, err
	}
	f := FailureDetail{
		ResultType:            ResultType(w.ResultType),
		ReceivingMXHostname:   w.ReceivingMXHostname,
		ReceivingMXHelo:       w.ReceivingMXHelo,
		FailedSessionCount:    n,
		AdditionalInformation: w.AdditionalInformation,
		FailureReasonCode:     w.FailureReasonCode,
	}
	switch {
	case w.ResultType == "":
		d.add(DiagMissingField, path+".result-type", "is missing (RFC 8460 §4.4)")
	case !f.ResultType.Known():
		d.add(DiagUnknownResultType, path+".result-type", "%q is not a registered result type; kept as is (RFC 8460 §4.3)", w.ResultType)
	}
	f.SendingMTAIP = parseAddr(w.SendingMTAIP, path+".sending-mta-ip", true, d)
	// No session reached the MX when the policy itself could not be had,
	// so no receiving-ip is expected then.
	sessionMade := !strings.HasPrefix(w.ResultType, "sts-policy-") && f.ResultType != ResultSTSWebPKIInvalid
	f.ReceivingIP = parseAddr(w.ReceivingIP, path+".receiving-ip", sessionMade, d)
	return f, nil
}

func parseAddr(s, path string, required bool, d *diagnoser) netip.Addr {
	if s == "" {
		if required {
			d.add(DiagMissingIP, path, "is missing or empty (RFC 8460 §4.4)")
		}
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		d.add(DiagInvalidIP, path, "%q is not an IP address; dropped", s)
		return netip.Addr{}
	}
	return a
}

// count reads a session count: a negative one is read as 0, one over
// MaxSessionCount refuses the report.
func count(n int64, path string, d *diagnoser) (int64, error) {
	switch {
	case n < 0:
		d.add(DiagNegativeCount, path, "is %d; read as 0", n)
		return 0, nil
	case n > MaxSessionCount:
		return 0, &ReportError{Path: path, Reason: fmt.Sprintf("is %d, more than the %d sessions (10^12) any sender makes under one policy in a day; the report is refused", n, int64(MaxSessionCount))}
	}
	return n, nil
}
