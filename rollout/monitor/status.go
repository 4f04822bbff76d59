package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/serve"
	"github.com/mtasts/mtasts/sts"
)

// StatusView is what "mtasts status" shows: the conditions the monitor
// has open on each served domain and its recent alerts.
type StatusView struct {
	Domains []DomainStatus `json:"domains"`
	// OpenAlerts counts the conditions that alerted and have not ended.
	OpenAlerts int `json:"open_alerts"`
}

// DomainStatus is the state of one served domain.
type DomainStatus struct {
	Domain string `json:"domain"`
	// Status is the worst severity of its open conditions, "ok", or
	// "unchecked" when the monitor has not checked it yet.
	Status string `json:"status"`
	// Checked is when the monitor last checked it; Mode the mode served
	// then; Verdict the readiness verdict of a domain in mode testing.
	Checked *time.Time `json:"checked,omitempty"`
	Mode    string     `json:"mode,omitempty"`
	Verdict string     `json:"verdict,omitempty"`
	// Conditions are those open now; a condition that has not alerted yet
	// (Fired false) is waiting for its hold to pass.
	Conditions []reportstore.MonitorCondition `json:"conditions"`
	// Alerts are the most recent alerts, newest first.
	Alerts []reportstore.MonitorAlert `json:"alerts"`
}

// ErrUnknownDomain is the error of Status for a domain not served.
var ErrUnknownDomain = errors.New("monitor: unknown domain")

// Statuses of a domain besides the severities.
const (
	// StatusOK: checked, and no condition is open.
	StatusOK = "ok"
	// StatusUnchecked: the monitor has not checked the domain yet.
	StatusUnchecked = "unchecked"
)

// Status reads from store the state of the domains cfg serves, or of
// domain alone if it is not "", with at most alerts recent alerts each.
func Status(ctx context.Context, store *reportstore.Store, cfg *serve.Config, domain string, alerts int) (*StatusView, error) {
	var domains []string
	for _, d := range cfg.Domains {
		domains = append(domains, d.Domain)
	}
	if domain != "" {
		d, err := sts.NormalizeDomain(domain)
		if err != nil || !slices.Contains(domains, d) {
			return nil, fmt.Errorf("%w: %s is not a domain of %s", ErrUnknownDomain, domain, cfg.Path)
		}
		domains = []string{d}
	}
	v := &StatusView{Domains: []DomainStatus{}}
	for _, d := range domains {
		conds, err := store.MonitorConditions(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("monitor: %w", err)
		}
		hist, err := store.MonitorAlerts(ctx, d, alerts)
		if err != nil {
			return nil, fmt.Errorf("monitor: %w", err)
		}
		last, err := store.MonitorDomains(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("monitor: %w", err)
		}
		ds := DomainStatus{Domain: d, Status: StatusUnchecked, Conditions: conds, Alerts: hist}
		if len(last) == 1 {
			ds.Status, ds.Checked, ds.Mode, ds.Verdict = StatusOK, &last[0].Checked, last[0].Mode, last[0].Verdict
		}
		for _, c := range conds {
			ds.Status = worse(ds.Status, c.Severity)
			if c.Fired {
				v.OpenAlerts++
			}
		}
		v.Domains = append(v.Domains, ds)
	}
	return v, nil
}

// worse returns the worse of two statuses.
func worse(a, b string) string {
	order := []string{StatusOK, StatusUnchecked, string(Warning), string(Critical)}
	if slices.Index(order, b) > slices.Index(order, a) {
		return b
	}
	return a
}

// Worst returns the worst status of the domains of v.
func (v *StatusView) Worst() string {
	w := StatusOK
	for _, d := range v.Domains {
		w = worse(w, d.Status)
	}
	return w
}

// WriteText writes v for people: per domain its status, each open
// condition with its message and fix, and its recent alerts.
func (v *StatusView) WriteText(w io.Writer) error {
	out := &textout.Writer{W: w}
	for i, d := range v.Domains {
		if i > 0 {
			out.Printf("\n")
		}
		out.Printf("%s: %s", d.Domain, d.Status)
		if len(d.Conditions) > 0 {
			out.Printf(", %s", textout.Plural(len(d.Conditions), "open condition"))
		}
		if d.Checked != nil {
			out.Printf("; mode %s, checked %s", d.Mode, d.Checked.UTC().Format(time.DateTime))
		}
		if d.Verdict != "" {
			out.Printf(", readiness %s", d.Verdict)
		}
		out.Printf("\n")
		for _, c := range d.Conditions {
			state := "alerted"
			if !c.Fired {
				state = "not alerted yet"
			}
			out.Textf("  %-8s %s %s (since %s, %s)\n", c.Severity, c.Kind, c.Subject, c.Since.UTC().Format(time.DateTime), state)
			out.Textf("           %s\n           fix: %s\n", c.Message, c.Fix)
		}
		if len(d.Alerts) > 0 {
			out.Printf("  recent alerts:\n")
		}
		for _, a := range d.Alerts {
			out.Textf("    %s  %-8s %-8s %s %s\n", a.Time.UTC().Format(time.DateTime), a.Status, a.Severity, a.Kind, a.Subject)
		}
	}
	out.Printf("\n%s across %s\n", textout.Plural(v.OpenAlerts, "open alert"), textout.Plural(len(v.Domains), "domain"))
	return out.Err
}
