package monitor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mtasts/mtasts/reportstore"
)

// reconcile records the conditions of domain found at now against those
// open in the store: a new one is opened (and alerts at once unless it
// must hold), one still found is updated (and alerts when its hold has
// passed, or when it becomes critical), one no longer found is ended
// (with a resolution if it had alerted). Each change and its alert are
// written in one transaction, so that a restart neither repeats nor
// loses an alert.
func (m *Monitor) reconcile(ctx context.Context, domain string, conds []Condition, now time.Time) error {
	open, err := m.o.Store.MonitorConditions(ctx, domain)
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	byKey := map[[2]string]reportstore.MonitorCondition{}
	for _, c := range open {
		byKey[[2]string{c.Kind, c.Subject}] = c
	}
	var errs []error
	found := map[[2]string]bool{}
	for _, c := range conds {
		key := [2]string{string(c.Kind), c.Subject}
		if found[key] {
			continue
		}
		found[key] = true
		rec := reportstore.MonitorCondition{Domain: domain, Kind: string(c.Kind), Subject: c.Subject, Severity: string(c.Severity),
			Message: c.Message, Fix: c.Fix, Since: now, Seen: now}
		old, existed := byKey[key]
		if existed {
			rec.Since, rec.Fired = old.Since, old.Fired
		}
		var alert *reportstore.MonitorAlert
		switch {
		case !rec.Fired && now.Sub(rec.Since) >= c.Hold:
			rec.Fired = true
			alert = m.alert(&rec, reportstore.AlertFiring, now)
		case rec.Fired && existed && c.Severity.rank() > Severity(old.Severity).rank():
			alert = m.alert(&rec, reportstore.AlertFiring, now)
		}
		if err := m.o.Store.PutMonitorCondition(ctx, &rec, alert); err != nil {
			errs = append(errs, err)
		}
	}
	for key, c := range byKey {
		if found[key] {
			continue
		}
		var alert *reportstore.MonitorAlert
		if c.Fired {
			alert = m.alert(&c, reportstore.AlertResolved, now)
		}
		if err := m.o.Store.EndMonitorCondition(ctx, domain, c.Kind, c.Subject, alert); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// alert is the alert of c with status, to be delivered to every channel.
func (m *Monitor) alert(c *reportstore.MonitorCondition, status string, now time.Time) *reportstore.MonitorAlert {
	m.metrics.alerts.WithLabelValues(c.Kind, status).Inc()
	return &reportstore.MonitorAlert{Time: now, Domain: c.Domain, Kind: c.Kind, Subject: c.Subject, Severity: c.Severity,
		Status: status, Message: c.Message, Fix: c.Fix, Since: c.Since, Pending: slices.Clone(m.names)}
}

// deliver sends the alerts not yet delivered, oldest first, to the
// channels they are pending for, and refreshes the open alerts on the
// channels that need it (Alertmanager). An alert a channel fails to take
// stays pending for it, for the next call; a channel no longer
// configured is dropped.
func (m *Monitor) deliver(ctx context.Context) error {
	m.deliverMu.Lock() // one delivery at a time: each alert once
	defer m.deliverMu.Unlock()
	pending, err := m.o.Store.PendingMonitorAlerts(ctx)
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	var errs []error
	for _, a := range pending {
		var left []string
		for _, name := range a.Pending {
			ch, ok := m.channels[name]
			if !ok {
				continue
			}
			if err := ch.Send(ctx, a); err != nil {
				m.metrics.deliveries.WithLabelValues(name, "error").Inc()
				m.o.Log.Warn("monitor: alert not delivered; will retry", "channel", name, "domain", a.Domain, "kind", a.Kind, "error", err)
				left = append(left, name)
				continue
			}
			m.metrics.deliveries.WithLabelValues(name, "ok").Inc()
		}
		// What was sent is recorded even when ctx ends meanwhile (the
		// server stops): else it would be sent again.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := m.o.Store.SetMonitorAlertPending(sctx, a.ID, left)
		cancel()
		if err != nil {
			errs = append(errs, err)
		}
	}
	var open []reportstore.MonitorCondition
	for _, name := range m.names {
		r, ok := m.channels[name].(Refresher)
		if !ok {
			continue
		}
		if open == nil {
			if open, err = m.o.Store.MonitorConditions(ctx, ""); err != nil {
				return errors.Join(append(errs, fmt.Errorf("monitor: %w", err))...)
			}
		}
		if err := r.Refresh(ctx, fired(open), m.o.Now().Add(3*m.o.Interval)); err != nil {
			m.o.Log.Warn("monitor: refreshing open alerts", "channel", name, "error", err)
		}
	}
	return errors.Join(errs...)
}

// fired returns the conditions of cs that have alerted.
func fired(cs []reportstore.MonitorCondition) []reportstore.MonitorCondition {
	return slices.DeleteFunc(cs, func(c reportstore.MonitorCondition) bool { return !c.Fired })
}
