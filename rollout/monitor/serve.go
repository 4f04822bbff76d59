package monitor

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/rollout"
	"github.com/mtasts/mtasts/serve"
	"github.com/mtasts/mtasts/tlsrptsend"
)

// Watch is the serve.Watcher of "mtasts serve": it runs the monitor the
// [serve.monitor] section of p.Config describes, if enabled, until ctx
// ends.
func Watch(ctx context.Context, p serve.Parts) error {
	mc := p.Config.Monitor
	if !mc.Enabled {
		return nil
	}
	if p.Store == nil {
		return fmt.Errorf("monitor: no report store")
	}
	opts := check.Options{Resolver: mc.Resolver}
	if mc.CAFile != "" {
		pem, err := os.ReadFile(mc.CAFile)
		if err != nil {
			return fmt.Errorf("monitor: serve.monitor.ca_file: %w", err)
		}
		opts.RootCAs = x509.NewCertPool()
		if !opts.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("monitor: serve.monitor.ca_file %s: no PEM certificate", mc.CAFile)
		}
	}
	// The readiness verdict as "mtasts promote" makes it.
	readiness, err := rollout.LoadConfig(p.Config.Path)
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	m, err := New(Options{
		Store: p.Store, Check: opts, Readiness: readiness.For, Policies: p.Policies, Channels: Channels(mc),
		Thresholds: ThresholdsOf(mc),
		Interval:   mc.Interval, Registry: p.Registry, Log: p.Log.With("component", "monitor"), Now: p.Now,
	})
	if err != nil {
		return err
	}
	p.Log.Info("monitoring the served domains", "interval", mc.Interval.String(), "channels", len(m.names))
	return m.Run(ctx)
}

// Channels returns the alert channels mc configures.
func Channels(mc serve.Monitor) []Channel {
	var out []Channel
	if e := mc.Email; e != nil {
		out = append(out, &Email{From: e.From, To: e.To,
			Relay: &tlsrptsend.Relay{Addr: e.Server, Username: e.Username, Password: e.Password, Insecure: e.StartTLS == "none"}})
	}
	for i, w := range mc.Webhooks {
		out = append(out, &Webhook{Index: i, URL: w.URL, Slack: w.Format == "slack"})
	}
	for i, u := range mc.Alertmanagers {
		out = append(out, &Alertmanager{Index: i, URL: u})
	}
	return out
}
