package web

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/mtasts/mtasts/reportstore"
)

// The status pages: what the monitor of "mtasts serve" (package
// rollout/monitor) keeps in the store, for all domains and for one. The
// dashboard reads the store only; it does not check anything itself.

// statusRow is a domain as the status overview lists it.
type statusRow struct {
	reportstore.MonitorDomain
	// Status is the worst severity of its open conditions, or "ok".
	Status     string
	Conditions []reportstore.MonitorCondition
	// Alerted counts the open conditions that have alerted.
	Alerted int
}

// statusRank orders statuses worst first.
func statusRank(s string) int {
	switch s {
	case "critical":
		return 0
	case "warning":
		return 1
	}
	return 2
}

// statusRows joins the last checks and the open conditions, worst first.
func statusRows(doms []reportstore.MonitorDomain, conds []reportstore.MonitorCondition) []statusRow {
	rows := make([]statusRow, len(doms))
	at := map[string]int{}
	for i, d := range doms {
		rows[i] = statusRow{MonitorDomain: d, Status: "ok"}
		at[d.Domain] = i
	}
	for _, c := range conds {
		i, ok := at[c.Domain]
		if !ok {
			continue
		}
		r := &rows[i]
		r.Conditions = append(r.Conditions, c)
		if statusRank(c.Severity) < statusRank(r.Status) {
			r.Status = c.Severity
		}
		if c.Fired {
			r.Alerted++
		}
	}
	slices.SortStableFunc(rows, func(a, b statusRow) int {
		return cmp.Or(cmp.Compare(statusRank(a.Status), statusRank(b.Status)), cmp.Compare(a.Domain, b.Domain))
	})
	return rows
}

// statusOverviewView is the data of the status overview.
type statusOverviewView struct {
	Rows                []statusRow
	Critical, Warning   int
	OK, OpenAlerts, All int
}

// statusOverview lists every domain the monitor checked, worst first.
func (d *dashboard) statusOverview(w http.ResponseWriter, r *http.Request) {
	var doms []reportstore.MonitorDomain
	var conds []reportstore.MonitorCondition
	ok := d.runQueries(w, r, func(ctx context.Context, _ reportstore.Version) []func() error {
		return []func() error{
			func() (err error) { doms, err = d.store.MonitorDomains(ctx, ""); return },
			func() (err error) { conds, err = d.store.MonitorConditions(ctx, ""); return },
		}
	})
	if !ok {
		return
	}
	v := statusOverviewView{Rows: statusRows(doms, conds), All: len(doms)}
	for _, row := range v.Rows {
		switch row.Status {
		case "critical":
			v.Critical++
		case "warning":
			v.Warning++
		default:
			v.OK++
		}
		v.OpenAlerts += row.Alerted
	}
	d.render(w, r, http.StatusOK, "status", "Status", v)
}

// finding is a finding of a check as the status page shows it (the JSON
// of package check's Finding).
type finding struct {
	Code, Severity, Subject, Message, Fix, RFC string
}

// verdictView is the readiness verdict as the status page shows it (the
// JSON of package rollout's Verdict).
type verdictView struct {
	Status     string `json:"verdict"`
	WindowDays int    `json:"window_days"`
	Reasons    []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"reasons"`
	Evidence struct {
		Sessions      int64 `json:"sessions"`
		Failures      int64 `json:"failed_sessions"`
		Days          int   `json:"days"`
		Organizations []struct {
			Organization string `json:"organization"`
		} `json:"organizations"`
	} `json:"evidence"`
}

// domainStatusView is the data of the status page of a domain.
type domainStatusView struct {
	statusRow
	Findings []finding
	Verdict  *verdictView
	Alerts   []reportstore.MonitorAlert
	Audit    []reportstore.AuditEntry
}

// alertHistory is how many alerts the status page of a domain lists.
const alertHistory = 50

// domainStatus shows what the monitor found on one domain, its
// readiness verdict, its alerts and the changes of its policy.
func (d *dashboard) domainStatus(w http.ResponseWriter, r *http.Request) {
	domain := r.PathValue("domain")
	var doms []reportstore.MonitorDomain
	var conds []reportstore.MonitorCondition
	var v domainStatusView
	ok := d.runQueries(w, r, func(ctx context.Context, _ reportstore.Version) []func() error {
		return []func() error{
			func() (err error) { doms, err = d.store.MonitorDomains(ctx, domain); return },
			func() (err error) { conds, err = d.store.MonitorConditions(ctx, domain); return },
			func() (err error) { v.Alerts, err = d.store.MonitorAlerts(ctx, domain, alertHistory); return },
			func() (err error) { v.Audit, err = d.store.AuditLog(ctx, domain); return },
		}
	})
	if !ok {
		return
	}
	if len(doms) == 0 {
		d.fail(w, r, http.StatusNotFound, "The monitor has not checked this domain: it checks the domains mtasts serve serves, with [serve.monitor] enabled.")
		return
	}
	v.statusRow = statusRows(doms, conds)[0]
	if err := json.Unmarshal(v.MonitorDomain.Findings, &v.Findings); err != nil {
		d.log.Warn("dashboard: findings of the last check", "domain", domain, "error", err)
	}
	if v.MonitorDomain.Verdict != "" {
		v.Verdict = &verdictView{}
		if err := json.Unmarshal(v.MonitorDomain.Evidence, v.Verdict); err != nil {
			d.log.Warn("dashboard: verdict of the last check", "domain", domain, "error", err)
			v.Verdict = nil
		}
	}
	slices.Reverse(v.Audit) // newest first, as the alerts
	d.render(w, r, http.StatusOK, "domainstatus", v.Domain+" status", v)
}
