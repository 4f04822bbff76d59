package deliver

import (
	"errors"
	"fmt"

	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/tlsrpt"
)

// Outcome is what became of one attempt on one MX host.
type Outcome string

// The outcomes of an Attempt.
const (
	// OutcomeDelivered: the server accepted the message (250 after DATA).
	OutcomeDelivered Outcome = "delivered"
	// OutcomeSkipped: under enforce the MX host matches none of the
	// policy's mx patterns (RFC 8461 §4.1), so it was not contacted.
	OutcomeSkipped Outcome = "skipped-not-in-policy"
	// OutcomeTLSFailed: STARTTLS was missing or TLS failed where the
	// policy requires it (RFC 8461 §4.2), or the handshake failed.
	OutcomeTLSFailed Outcome = "tls-failed"
	// OutcomeConnectFailed: the host could not be resolved or reached, or
	// the connection broke.
	OutcomeConnectFailed Outcome = "connect-failed"
	// OutcomeTimeout: the host did not answer in time (Sender.Timeout):
	// no connection, no greeting, or a session that stalled.
	OutcomeTimeout Outcome = "timeout"
	// OutcomeSMTPError: the server refused a command, or every recipient
	// (Err is a *ReplyError).
	OutcomeSMTPError Outcome = "smtp-error"
)

// Attempt is one MX host tried (or skipped) by Send.
type Attempt struct {
	// Host is the MX host name, without trailing dot.
	Host string
	// Addr is the remote ip:port connected to, if a connection was made.
	Addr string
	// Outcome is what happened.
	Outcome Outcome
	// TLS reports whether the message (or the session) went over TLS;
	// TLSVersion is the negotiated crypto/tls version.
	TLS        bool
	TLSVersion uint16
	// ResultType is the RFC 8460 §4.3 result type of the TLS failure seen
	// on this host under an enforce or testing policy, "" if the session
	// passed the policy's checks (or no policy applies). Under testing it
	// is set on delivered attempts too: the mail went through, the failure
	// is still reported.
	ResultType tlsrpt.ResultType
	// Err is why the attempt failed, nil when delivered.
	Err error
}

// Result is what Send did for one message.
type Result struct {
	// Domain is the recipient domain.
	Domain string
	// Decision is the MTA-STS decision applied.
	Decision resolver.Decision
	// ImplicitMX reports that the domain had no MX records and was tried
	// as its own MX host (RFC 5321 §5.1).
	ImplicitMX bool
	// Attempts are the MX hosts in the order they were considered.
	Attempts []Attempt
	// Accepted are the recipients the message was delivered to, in the
	// order given to Send; empty unless a server took the message.
	Accepted []string
	// Rejected are the recipients refused at RCPT TO (RFC 5321 §3.3) by
	// the last server that got that far: the one that took the message
	// for the others, or one that refused them all. They are not
	// delivered. Each error wraps ErrTemporary (4yz: try again later) or
	// ErrPermanent (5yz: bounce) and the server's *ReplyError.
	Rejected map[string]error
}

// Delivered returns the attempt that delivered the message, or nil.
func (r *Result) Delivered() *Attempt {
	for i := range r.Attempts {
		if r.Attempts[i].Outcome == OutcomeDelivered {
			return &r.Attempts[i]
		}
	}
	return nil
}

// Sentinels wrapped by every error of Send, for errors.Is.
var (
	// ErrTemporary: the message was not delivered now and should be
	// retried later (RFC 5321 §4.5.4.1); under enforce every failure of
	// the policy is temporary (RFC 8461 §5).
	ErrTemporary = errors.New("deliver: temporary failure")
	// ErrPermanent: the message cannot be delivered: the domain accepts
	// no mail (null MX, RFC 7505), does not exist, or a server rejected
	// it with a 5yz reply.
	ErrPermanent = errors.New("deliver: permanent failure")
	// ErrDANE: the domain's MX hosts are protected by DANE (RFC 7672),
	// which this package does not implement and MTA-STS must not override
	// (RFC 8461 §2); Send defers such mail.
	ErrDANE = errors.New("deliver: DANE applies and is not supported")
)

// ReplyError is an SMTP command refused by the server (RFC 5321 §4.2).
type ReplyError struct {
	Host    string
	Command string // "MAIL", "RCPT", "DATA", "EHLO", ...
	Code    int
	Message string
}

// Error implements error.
func (e *ReplyError) Error() string {
	return fmt.Sprintf("%s: %s: %d %s", e.Host, e.Command, e.Code, e.Message)
}

// Permanent reports a 5yz reply (RFC 5321 §4.2.1).
func (e *ReplyError) Permanent() bool { return e.Code >= 500 && e.Code < 600 }

// failure wraps err with the temporary or permanent sentinel.
func failure(permanent bool, err error) error {
	if permanent {
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	return fmt.Errorf("%w: %w", ErrTemporary, err)
}
