package rollout

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/sts"
)

// Sources are where Gather finds the evidence.
type Sources struct {
	// Store holds the received TLS reports.
	Store *reportstore.Store
	// Checker checks the domain live; its options choose the resolver,
	// the trusted roots and the dialer.
	Checker *check.Checker
	// Now is the clock that ends the window; nil means time.Now.
	Now func() time.Time
}

// Gather collects the evidence for served, the policy a domain is served
// with: the reports of the last th.Window (default 14 days, counted in
// whole UTC days up to today), and a fresh check of the domain. A check that cannot run is evidence
// too (Evidence.CheckError); only a failure of the store is an error.
func Gather(ctx context.Context, src Sources, domain string, served ServedPolicy, th Thresholds) (Evidence, error) {
	res, err := src.Checker.Check(ctx, domain)
	if err != nil && ctx.Err() != nil {
		return Evidence{Domain: domain, Policy: served}, fmt.Errorf("rollout: evidence of %s: %w", domain, err)
	}
	return GatherChecked(ctx, src, domain, served, th, res, err)
}

// GatherChecked is Gather with the check of the domain already made: res
// and err are what src.Checker.Check returned, so that a caller that
// needs the check for itself (the monitor) checks once.
func GatherChecked(ctx context.Context, src Sources, domain string, served ServedPolicy, th Thresholds, res *check.Result, checkErr error) (Evidence, error) {
	th = th.withDefaults()
	now := time.Now
	if src.Now != nil {
		now = src.Now
	}
	until := now().UTC()
	// The window is whole UTC days, today the last of them; the filter's
	// Until is exclusive, so the day after today ends it.
	since := until.Truncate(24 * time.Hour).Add(24*time.Hour - th.Window)
	ev := Evidence{Domain: domain, Since: since, Until: until, Policy: served}
	f := reportstore.Filter{Domain: domain, Since: since, Until: until.Add(24 * time.Hour)}
	var err error
	if ev.Organizations, err = src.Store.OrganizationSessions(ctx, f); err != nil {
		return ev, fmt.Errorf("rollout: evidence of %s: %w", domain, err)
	}
	if ev.Failures, err = src.Store.FailureGroups(ctx, f); err != nil {
		return ev, fmt.Errorf("rollout: evidence of %s: %w", domain, err)
	}
	days, err := src.Store.DailySummary(ctx, f)
	if err != nil {
		return ev, fmt.Errorf("rollout: evidence of %s: %w", domain, err)
	}
	for _, d := range days {
		if d.Sessions() > 0 {
			ev.Days++
		}
	}
	if checkErr != nil {
		ev.CheckError = checkErr.Error()
		return ev, nil
	}
	ev.LiveMX = liveMX(res, served)
	return ev, nil
}

// liveMX returns the MX hosts res found, each judged against the served
// policy's patterns (RFC 8461 §4.1) and by the check's findings that fail
// it (§4.2); a host none of whose addresses completed a TLS handshake is
// not taken to validate. The check's own coverage findings are left out:
// they judge the policy published now, which may not be the one served.
func liveMX(res *check.Result, served ServedPolicy) []LiveMX {
	policy := sts.Policy{MX: served.MX}
	out := []LiveMX{}
	for _, h := range res.Facts.MX.Hosts {
		mx := LiveMX{Host: h.Host, Covered: policy.Match(h.Host)}
		for _, f := range res.Findings {
			host, _, _ := strings.Cut(f.Subject, " [")
			if f.Blocks() && f.Code != "mx-not-covered" && strings.EqualFold(host, h.Host) {
				mx.Problems = append(mx.Problems, string(f.Code)+": "+f.Message)
			}
		}
		if len(mx.Problems) == 0 && !verified(h) {
			mx.Problems = append(mx.Problems, fmt.Sprintf("%s: no address of %s completed STARTTLS and a TLS handshake (%s)", NotVerified, h.Host, whyNotVerified(h)))
		}
		out = append(out, mx)
	}
	return out
}

// NotVerified starts the problem of a live MX host the check could not
// verify at all: no connection, no SMTP, or no address to probe.
const NotVerified = "not-verified"

// verified reports whether an address of h completed a TLS handshake.
func verified(h check.MXHostFacts) bool {
	for _, a := range h.Addresses {
		if a.TLS != nil {
			return true
		}
	}
	return false
}

// whyNotVerified says why no address of h was verified.
func whyNotVerified(h check.MXHostFacts) string {
	for _, a := range h.Addresses {
		switch {
		case a.Error != "":
			return a.IP + ": " + a.Error
		case a.Skipped != "":
			return a.IP + ": " + a.Skipped
		}
	}
	return "no address"
}
