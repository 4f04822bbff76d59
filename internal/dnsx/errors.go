package dnsx

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// Sentinel errors, reached with errors.Is through the *net.DNSError every
// lookup returns. See the package documentation for the error model.
var (
	// ErrNXDomain means the name does not exist (rcode NXDOMAIN).
	ErrNXDomain = errors.New("dnsx: no such domain")
	// ErrNoData means the name exists but has no record of the asked type.
	ErrNoData = errors.New("dnsx: no record of this type")
	// ErrServerFailure means no server gave a usable answer: SERVFAIL,
	// REFUSED or another error rcode, a lame referral, a network error, a
	// malformed reply or a CNAME loop. It is a temporary failure, never "no
	// record".
	ErrServerFailure = errors.New("dnsx: DNS server failure")
	// ErrTimeout means no server answered in time.
	ErrTimeout = errors.New("dnsx: DNS timeout")

	// ErrCNAMELoop means the CNAME chain loops or is longer than MaxCNAMEs.
	// It wraps ErrServerFailure, as a recursive resolver would answer
	// SERVFAIL.
	ErrCNAMELoop = fmt.Errorf("%w: CNAME loop or chain too long", ErrServerFailure)
	// ErrInvalidName means the name cannot exist in the DNS; no query was
	// sent. It wraps ErrNXDomain, so it counts as not found.
	ErrInvalidName = fmt.Errorf("%w: invalid domain name", ErrNXDomain)
)

// IsNotFound reports whether err says the record does not exist: NXDOMAIN or
// NODATA (including an invalid name). It understands errors from a
// net.Resolver too.
func IsNotFound(err error) bool {
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.IsNotFound
	}
	return errors.Is(err, ErrNXDomain) || errors.Is(err, ErrNoData)
}

// IsTemporary reports whether err is a DNS failure that says nothing about
// whether the record exists: SERVFAIL, REFUSED, other rcodes, timeouts,
// network errors, CNAME loops, cancellation. It is false for nil, for
// not-found errors and for errors that are not DNS errors.
func IsTemporary(err error) bool {
	var de *net.DNSError
	if errors.As(err, &de) {
		return !de.IsNotFound
	}
	return errors.Is(err, ErrServerFailure) || errors.Is(err, ErrTimeout)
}

// newError builds the *net.DNSError for a failed lookup of name. kind is one
// of the sentinels (or nil for cancellation), text the human-readable reason
// and cause, if not nil, the underlying error, reachable with errors.Is too.
func newError(name, server string, kind error, text string, cause error) *net.DNSError {
	var unwrap error
	switch {
	case kind == nil:
		unwrap = cause
	case cause == nil:
		unwrap = kind
	default:
		unwrap = fmt.Errorf("%w: %w", kind, cause)
	}
	notFound := errors.Is(kind, ErrNXDomain) || errors.Is(kind, ErrNoData)
	return &net.DNSError{
		Err:         text,
		Name:        name,
		Server:      server,
		IsNotFound:  notFound,
		IsTimeout:   errors.Is(kind, ErrTimeout),
		IsTemporary: !notFound,
		UnwrapErr:   unwrap,
	}
}

// contextError maps the error of a done context to a *net.DNSError.
func contextError(name, server string, err error) *net.DNSError {
	if errors.Is(err, context.DeadlineExceeded) {
		return newError(name, server, ErrTimeout, "i/o timeout (context deadline exceeded)", err)
	}
	return newError(name, server, nil, "operation was canceled", err)
}
