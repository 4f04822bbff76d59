package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mtasts/mtasts/sts"
)

// Cache stores policy entries and negative entries, one of each per policy
// domain. Domains are keys as given (callers normalize them with
// sts.NormalizeDomain). All methods are safe for concurrent use.
//
// Get and GetNegative return ErrNotFound when there is no unexpired entry;
// any other error means the backend could not answer, which a caller must
// not take for "nothing cached".
type Cache interface {
	// Get returns the unexpired policy entry of domain.
	Get(ctx context.Context, domain string) (*Entry, error)
	// Put stores e, replacing the entry of e.Domain. An entry that has
	// already expired removes the stored one.
	Put(ctx context.Context, e *Entry) error
	// Delete removes the policy entry of domain, if any.
	Delete(ctx context.Context, domain string) error

	// GetNegative returns the unexpired negative entry of domain.
	GetNegative(ctx context.Context, domain string) (*Negative, error)
	// PutNegative stores n, replacing the negative entry of n.Domain.
	PutNegative(ctx context.Context, n *Negative) error
	// DeleteNegative removes the negative entry of domain, if any.
	DeleteNegative(ctx context.Context, domain string) error

	// Due returns up to limit unexpired policy entries whose RefreshAt is
	// at or before the given time, earliest first: the policies due for a
	// proactive refresh (RFC 8461 §10.2). It may also purge expired
	// entries.
	Due(ctx context.Context, before time.Time, limit int) ([]*Entry, error)

	// Close releases the backend's resources.
	Close() error
}

// ErrNotFound is returned by Get and GetNegative when nothing unexpired is
// cached for the domain.
var ErrNotFound = errors.New("cache: not found")

// ErrUnavailable wraps the errors of a shared backend that could not be
// reached (see Layered).
var ErrUnavailable = errors.New("cache: shared backend unavailable")

// Entry is a cached MTA-STS policy (RFC 8461 §5.1). The Policy is shared
// with other readers and must not be modified.
type Entry struct {
	// Domain is the policy domain, normalized.
	Domain string
	// ID is the id of the _mta-sts TXT record under which the policy was
	// fetched (RFC 8461 §3.1).
	ID string
	// Text is the policy file as fetched (RFC 8461 §3.2).
	Text string
	// Policy is Text parsed. Backends fill it in on Get; Put parses Text
	// when Policy is nil.
	Policy *sts.Policy
	// Fetched is when Text was last fetched successfully.
	Fetched time.Time
	// Expires is Fetched plus the policy's max_age: the end of its
	// validity (RFC 8461 §5.1).
	Expires time.Time
	// Checked is when ID was last compared with the TXT record.
	Checked time.Time
	// RefreshAt is when the policy is due for a proactive refresh (RFC
	// 8461 §10.2); zero means never.
	RefreshAt time.Time
}

// Expired reports whether the entry is no longer valid at now.
func (e *Entry) Expired(now time.Time) bool { return !now.Before(e.Expires) }

// NegativeKind says what a negative entry remembers.
type NegativeKind string

// Kinds of negative entries.
const (
	// NoRecord: the domain has no usable _mta-sts TXT record (RFC 8461
	// §3.1), so it has no policy.
	NoRecord NegativeKind = "no-record"
	// FetchFailed: fetching the policy of the record with Negative.ID
	// failed; RFC 8461 §3.3 says to wait at least 5 minutes before trying
	// again for the same id.
	FetchFailed NegativeKind = "fetch-failed"
)

// Negative is a short-lived negative answer for a domain.
type Negative struct {
	// Domain is the policy domain, normalized.
	Domain string
	// Kind says what failed.
	Kind NegativeKind
	// ID is the TXT record id whose policy could not be fetched
	// (FetchFailed only).
	ID string
	// Reason says why, for people.
	Reason string
	// Created is when the failure was seen.
	Created time.Time
	// Expires is when the entry stops applying.
	Expires time.Time
}

// Expired reports whether the negative entry no longer applies at now.
func (n *Negative) Expired(now time.Time) bool { return !now.Before(n.Expires) }

// prepare returns a copy of e ready to store: times in UTC without a
// monotonic reading and the policy parsed.
func prepare(e *Entry) (*Entry, error) {
	if e.Domain == "" {
		return nil, errors.New("cache: entry without domain")
	}
	c := *e
	c.Fetched, c.Expires, c.Checked, c.RefreshAt = utc(c.Fetched), utc(c.Expires), utc(c.Checked), utc(c.RefreshAt)
	if c.Policy == nil {
		p, err := sts.ParsePolicy([]byte(c.Text))
		if err != nil {
			return nil, fmt.Errorf("cache: policy of %s: %w", c.Domain, err)
		}
		c.Policy = p
	}
	return &c, nil
}

// prepareNegative returns a copy of n ready to store.
func prepareNegative(n *Negative) (*Negative, error) {
	if n.Domain == "" {
		return nil, errors.New("cache: negative entry without domain")
	}
	c := *n
	c.Created, c.Expires = utc(c.Created), utc(c.Expires)
	return &c, nil
}

// utc returns t in UTC without its monotonic clock reading.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// unixNano and fromUnixNano convert times for storage; the zero time is 0.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
