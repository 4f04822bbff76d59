package probe

import (
	"errors"
	"fmt"
)

// Stage names the step of a probe that failed.
type Stage string

// The stages of a probe, in the order they run.
const (
	StageConnect   Stage = "connect"   // TCP connection to the MX
	StageBanner    Stage = "banner"    // the server's 220 greeting
	StageEHLO      Stage = "ehlo"      // EHLO command and reply
	StageSTARTTLS  Stage = "starttls"  // STARTTLS command and its 220 reply
	StageHandshake Stage = "handshake" // the TLS handshake after STARTTLS
)

// Error is a failure at one stage of a probe. Result.Err always holds an
// *Error; Err is the underlying cause (a network error, a
// *textproto.Error carrying the server's SMTP reply, a TLS alert, or
// context.DeadlineExceeded joined with the I/O error when the probe's
// Timeout expired).
type Error struct {
	Stage Stage
	Err   error
}

// Error implements error.
func (e *Error) Error() string {
	return "probe: " + string(e.Stage) + ": " + e.Err.Error()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Sentinels that Result.VerifyError and Result.NameError wrap, so that
// callers classify with errors.Is. The x509 error that caused them is
// wrapped too and reachable with errors.As.
var (
	// ErrCertExpired: a certificate of the chain expired before Options.Now.
	ErrCertExpired = errors.New("certificate has expired")
	// ErrCertNotYetValid: a certificate of the chain is not valid until
	// after Options.Now.
	ErrCertNotYetValid = errors.New("certificate is not yet valid")
	// ErrSelfSigned: the leaf signs itself and is not a trusted root.
	ErrSelfSigned = errors.New("certificate is self-signed")
	// ErrUnknownAuthority: the chain does not lead to a trusted root.
	ErrUnknownAuthority = errors.New("certificate signed by unknown authority")
	// ErrCertInvalid: the chain failed verification for another reason
	// (key usage, constraints, bad signature, no certificate presented).
	ErrCertInvalid = errors.New("certificate chain is invalid")
	// ErrHostMismatch: the leaf has no DNS-ID matching the MX host name.
	ErrHostMismatch = errors.New("certificate does not match host name")
	// ErrPlaintextAfterSTARTTLS: the server sent more data after its 220
	// reply to STARTTLS, before the TLS handshake. Such bytes would be
	// read as if they came over TLS by a careless client (CVE-2011-0411
	// class), so the probe refuses to go on.
	ErrPlaintextAfterSTARTTLS = errors.New("server sent plaintext after its STARTTLS reply")
)

// wrap returns sentinel wrapped together with cause, both visible to
// errors.Is and errors.As.
func wrap(sentinel, cause error) error {
	return fmt.Errorf("%w: %w", sentinel, cause)
}
