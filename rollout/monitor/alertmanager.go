package monitor

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mtasts/mtasts/reportstore"
)

// Alertmanager sends alerts to a Prometheus Alertmanager through its API
// (POST /api/v2/alerts). Alertmanager resolves an alert whose end time
// passes, so the open alerts are sent again every round (Refresh) with an
// end time three intervals ahead; Alertmanager groups and deduplicates
// them by their labels and notifies once.
type Alertmanager struct {
	// Index numbers it in its channel name, "alertmanager[Index]".
	Index int
	// URL is the Alertmanager's base URL, such as "http://127.0.0.1:9093".
	URL string
	// Client defaults to one with a 30 s timeout that refuses redirects.
	Client *http.Client
	// GeneratorURL, if set, is the link of every alert (the dashboard).
	GeneratorURL string
}

// amAlert is an alert of the Alertmanager API v2 ("postableAlert").
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Name implements Channel.
func (am *Alertmanager) Name() string { return fmt.Sprintf("alertmanager[%d]", am.Index) }

// Send implements Channel: a firing alert with no end time, or a
// resolved one ending when it was resolved.
func (am *Alertmanager) Send(ctx context.Context, a reportstore.MonitorAlert) error {
	x := am.alert(a.Domain, a.Kind, a.Subject, a.Severity, a.Message, a.Fix, a.Since)
	if a.Status == reportstore.AlertResolved {
		x.EndsAt = a.Time
	}
	return am.post(ctx, []amAlert{x})
}

// Refresh implements Refresher.
func (am *Alertmanager) Refresh(ctx context.Context, open []reportstore.MonitorCondition, endsAt time.Time) error {
	if len(open) == 0 {
		return nil
	}
	xs := make([]amAlert, 0, len(open))
	for _, c := range open {
		x := am.alert(c.Domain, c.Kind, c.Subject, c.Severity, c.Message, c.Fix, c.Since)
		x.EndsAt = endsAt
		xs = append(xs, x)
	}
	return am.post(ctx, xs)
}

func (am *Alertmanager) alert(domain, kind, subject, severity, message, fix string, since time.Time) amAlert {
	return amAlert{
		Labels:       map[string]string{"alertname": kind, "domain": domain, "subject": subject, "severity": severity, "service": "mtasts"},
		Annotations:  map[string]string{"summary": message, "fix": fix},
		StartsAt:     since,
		GeneratorURL: am.GeneratorURL,
	}
}

func (am *Alertmanager) post(ctx context.Context, xs []amAlert) error {
	url := strings.TrimSuffix(am.URL, "/") + "/api/v2/alerts"
	if err := postJSON(ctx, httpClient(am.Client), url, xs, 3, time.Second); err != nil {
		return fmt.Errorf("monitor: alertmanager: %w", err)
	}
	return nil
}
