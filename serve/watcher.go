package serve

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/reportstore"
)

// A Watcher runs beside a Service while it serves, over its parts, until
// ctx ends: "mtasts serve" runs its monitor (package rollout/monitor) so,
// which this package cannot import. An error ends only the watcher; it is
// logged.
type Watcher func(ctx context.Context, p Parts) error

// Parts are what a Watcher may use of a running Service.
type Parts struct {
	// Config is the configuration the service started with.
	Config *Config
	// Store is the report store, nil when none is configured.
	Store *reportstore.Store
	// Policies returns the policies served now, after any reload.
	Policies func() []policyhost.Policy
	// Registry receives the watcher's metrics.
	Registry prometheus.Registerer
	Log      *slog.Logger
	Now      func() time.Time
}

// startWatcher runs the watcher of the options, if any, until ctx ends;
// close waits for it.
func (s *Service) startWatcher(ctx context.Context) {
	if s.opts.Watcher == nil {
		return
	}
	p := Parts{Config: s.cfg, Store: s.reports.store, Policies: s.host.Handler().Policies,
		Registry: s.opts.Registry, Log: s.log, Now: s.opts.Now}
	s.reports.wg.Go(func() {
		if err := s.opts.Watcher(ctx, p); err != nil && ctx.Err() == nil {
			s.log.Error("monitor stopped", "error", err)
		}
	})
}
