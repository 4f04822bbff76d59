package tlsrpt

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"time"
)

// The wire types mirror the JSON of RFC 8460 §4.4 member for member, with
// the RFC's hyphenated names. They decode what real senders write (members
// are optional; mx-host and policy-string may be strings) and encode what
// the RFC asks for. fromWire (convert.go) and toWire are the only bridges to
// the Go model.

type wireReport struct {
	OrganizationName string             `json:"organization-name"`
	DateRange        *wireDateRange     `json:"date-range"`
	ContactInfo      string             `json:"contact-info"`
	ReportID         string             `json:"report-id"`
	Policies         []wirePolicyResult `json:"policies"`
}

type wireDateRange struct {
	Start string `json:"start-datetime"`
	End   string `json:"end-datetime"`
}

type wirePolicyResult struct {
	Policy         *wirePolicy         `json:"policy"`
	Summary        *wireSummary        `json:"summary"`
	FailureDetails []wireFailureDetail `json:"failure-details,omitempty"`
}

type wirePolicy struct {
	Type    string     `json:"policy-type"`
	Strings stringList `json:"policy-string,omitzero"`
	Domain  string     `json:"policy-domain"`
	MXHost  stringList `json:"mx-host,omitzero"`
}

type wireSummary struct {
	Successful int64 `json:"total-successful-session-count"`
	Failed     int64 `json:"total-failure-session-count"`
}

type wireFailureDetail struct {
	ResultType            string `json:"result-type"`
	SendingMTAIP          string `json:"sending-mta-ip,omitempty"`
	ReceivingMXHostname   string `json:"receiving-mx-hostname,omitempty"`
	ReceivingMXHelo       string `json:"receiving-mx-helo,omitempty"`
	ReceivingIP           string `json:"receiving-ip,omitempty"`
	FailedSessionCount    int64  `json:"failed-session-count"`
	AdditionalInformation string `json:"additional-information,omitempty"`
	FailureReasonCode     string `json:"failure-reason-code,omitempty"`
}

// listShape records how a string-list member appeared in the JSON.
type listShape uint8

const (
	shapeAbsent listShape = iota // member not present
	shapeNull                    // null
	shapeArray                   // array of strings, as RFC 8460 §4.4 says
	shapeString                  // a single string
	shapeOther                   // anything else; ignored
)

// stringList is a JSON member that should be an array of strings but may
// arrive as a single string. It always encodes as an array.
type stringList struct {
	values []string
	shape  listShape
	// required is set for a list written even when empty.
	required bool
}

func (l *stringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*l = stringList{shape: shapeNull}
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = stringList{values: []string{s}, shape: shapeString}
	default:
		var vs []string
		if err := json.Unmarshal(b, &vs); err != nil {
			*l = stringList{shape: shapeOther}
			return nil
		}
		*l = stringList{values: vs, shape: shapeArray}
	}
	return nil
}

func (l stringList) MarshalJSON() ([]byte, error) {
	if l.values == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(l.values)
}

func (l stringList) IsZero() bool { return len(l.values) == 0 && !l.required }

// toWire converts the Go model to the wire form of RFC 8460 §4.4.
func toWire(r *Report) *wireReport {
	w := &wireReport{
		OrganizationName: r.OrganizationName,
		DateRange:        &wireDateRange{Start: formatTime(r.DateRange.Start), End: formatTime(r.DateRange.End)},
		ContactInfo:      r.ContactInfo,
		ReportID:         r.ReportID,
		Policies:         make([]wirePolicyResult, 0, len(r.Policies)),
	}
	for _, p := range r.Policies {
		wp := wirePolicyResult{
			Policy: &wirePolicy{
				Type: string(p.Policy.Type),
				// RFC 8460 §4.4: policy-string is required but for
				// no-policy-found; empty when the policy could not be had
				// (sts-policy-fetch-error and the like).
				Strings: stringList{values: p.Policy.Strings, required: p.Policy.Type != PolicyNoPolicyFound},
				Domain:  p.Policy.Domain,
				MXHost:  stringList{values: p.Policy.MXHosts},
			},
			Summary: &wireSummary{Successful: p.Summary.Successful, Failed: p.Summary.Failed},
		}
		for _, f := range p.FailureDetails {
			wp.FailureDetails = append(wp.FailureDetails, wireFailureDetail{
				ResultType:            string(f.ResultType),
				SendingMTAIP:          formatAddr(f.SendingMTAIP),
				ReceivingMXHostname:   f.ReceivingMXHostname,
				ReceivingMXHelo:       f.ReceivingMXHelo,
				ReceivingIP:           formatAddr(f.ReceivingIP),
				FailedSessionCount:    f.FailedSessionCount,
				AdditionalInformation: f.AdditionalInformation,
				FailureReasonCode:     f.FailureReasonCode,
			})
		}
		w.Policies = append(w.Policies, wp)
	}
	return w
}

// formatTime writes an RFC 3339 date-time in UTC, as RFC 8460 §4.4 asks.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func formatAddr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
