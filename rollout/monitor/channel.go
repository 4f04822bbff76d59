package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mtasts/mtasts/reportstore"
)

// Channel delivers alerts somewhere. Send must be safe to call again for
// an alert it failed to deliver.
type Channel interface {
	// Name names the channel in the store's record of pending deliveries
	// and in metrics, such as "email" or "webhook[0]".
	Name() string
	Send(ctx context.Context, a reportstore.MonitorAlert) error
}

// Refresher is a Channel that must be told again, every round, which
// alerts are still firing, such as Alertmanager, which resolves an alert
// not renewed by its end time.
type Refresher interface {
	Refresh(ctx context.Context, open []reportstore.MonitorCondition, endsAt time.Time) error
}

// Subject is the one-line summary of an alert, as mail subjects and chat
// messages show it.
func Subject(a reportstore.MonitorAlert) string {
	word := strings.ToUpper(a.Severity)
	if a.Status == reportstore.AlertResolved {
		word = "RESOLVED"
	}
	return fmt.Sprintf("[mtasts %s] %s: %s %s", word, a.Domain, a.Kind, a.Subject)
}

// Text is the body of an alert for people.
func Text(a reportstore.MonitorAlert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", Subject(a))
	if a.Status == reportstore.AlertResolved {
		fmt.Fprintf(&b, "Resolved at %s; it started at %s.\nIt was: %s\n", a.Time.UTC().Format(time.DateTime), a.Since.UTC().Format(time.DateTime), a.Message)
		return b.String()
	}
	fmt.Fprintf(&b, "Domain:    %s\nCondition: %s\nSubject:   %s\nSeverity:  %s\nSince:     %s\n\n%s\n\nFix: %s\n",
		a.Domain, a.Kind, a.Subject, a.Severity, a.Since.UTC().Format(time.DateTime), a.Message, a.Fix)
	return b.String()
}

// postJSON POSTs v as JSON to url with client, up to tries times with
// doubling pauses from pause, for network errors, 429 and 5xx answers.
func postJSON(ctx context.Context, client *http.Client, url string, v any, tries int, pause time.Duration) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var last error
	for i := range tries {
		if i > 0 && !sleep(ctx, pause<<(i-1)) {
			break
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "mtasts-monitor")
		resp, err := client.Do(req)
		if err != nil {
			last = err
			continue
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return nil
		}
		last = fmt.Errorf("POST %s: %s", url, resp.Status)
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
			break
		}
	}
	if last == nil {
		last = ctx.Err()
	}
	return last
}

// httpClient is the client of webhooks and Alertmanager: no redirects
// followed, a timeout.
func httpClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("redirect refused") }}
}

// Webhook POSTs each alert as JSON to a URL.
type Webhook struct {
	// Index numbers the webhook in its channel name, "webhook[Index]".
	Index int
	URL   string
	// Slack sends {"text": …}, the body Slack and Mattermost incoming
	// webhooks take, instead of the alert itself.
	Slack bool
	// Client defaults to one with a 30 s timeout that refuses redirects.
	Client *http.Client
	// Tries is how many times a POST is tried (3 if zero); Pause the
	// first pause between tries, doubled each time (1 s if zero).
	Tries int
	Pause time.Duration
}

// Name implements Channel.
func (w *Webhook) Name() string { return fmt.Sprintf("webhook[%d]", w.Index) }

// Send implements Channel.
func (w *Webhook) Send(ctx context.Context, a reportstore.MonitorAlert) error {
	var body any = a
	if w.Slack {
		body = map[string]string{"text": Text(a)}
	}
	tries, pause := w.Tries, w.Pause
	if tries <= 0 {
		tries = 3
	}
	if pause <= 0 {
		pause = time.Second
	}
	if err := postJSON(ctx, httpClient(w.Client), w.URL, body, tries, pause); err != nil {
		return fmt.Errorf("monitor: webhook: %w", err)
	}
	return nil
}
