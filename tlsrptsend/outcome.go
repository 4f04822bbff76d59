package tlsrptsend

import (
	"context"
	"net/netip"
	"time"

	"github.com/mtasts/mtasts/tlsrpt"
)

// Outcome is the TLS result of one SMTP session of a sending MTA with one
// MX host of a policy domain: what RFC 8460 §4 counts. A session that met
// the policy is a success (Result empty); one that did not carries the
// result type of RFC 8460 §4.3.
type Outcome struct {
	Time time.Time // when the session took place

	// Policy is the policy applied, as the report states it (RFC 8460
	// §4.4 "policy"): type sts or no-policy-found, the policy's lines,
	// the policy domain and the mx patterns.
	Policy tlsrpt.Policy

	MXHost      string     // "receiving-mx-hostname": the MX host connected to
	ReceivingIP netip.Addr // "receiving-ip"
	SendingIP   netip.Addr // "sending-mta-ip"; the zero Addr when unknown

	// Result is empty for a successful session, else why it failed
	// (RFC 8460 §4.3).
	Result tlsrpt.ResultType
	// AdditionalInfo is "additional-information" and ReasonCode
	// "failure-reason-code" of RFC 8460 §4.4: free text about the failure.
	AdditionalInfo string
	ReasonCode     string
}

// Success reports whether the session met its policy.
func (o *Outcome) Success() bool { return o.Result == "" }

// Recorder takes outcomes as they are observed. Aggregator is one;
// StoreRecorder, over the report store, another. Implementations are safe for concurrent
// use.
type Recorder interface {
	Record(Outcome)
}

// Source produces outcomes: the enforce service's policy decisions, a
// Postfix log (PostfixLog), the deliver package's observer. Run feeds
// every outcome it observes to rec until the source is exhausted or ctx is
// done.
type Source interface {
	Run(ctx context.Context, rec Recorder) error
}

// RecorderFunc adapts a function to Recorder.
type RecorderFunc func(Outcome)

// Record calls f(o).
func (f RecorderFunc) Record(o Outcome) { f(o) }
