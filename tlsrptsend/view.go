package tlsrptsend

import (
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/reportstore"
)

// SendView is what a run of "mtasts tlsrpt send" did, as JSON and, with
// WriteText, as text.
type SendView struct {
	Day        string       `json:"day"`
	DryRun     bool         `json:"dry_run"`
	Built      bool         `json:"built"`
	Reports    []SentReport `json:"reports"`
	Skipped    []Skip       `json:"skipped"`
	Deliveries Deliveries   `json:"deliveries"`
}

// SentReport is one report built: its policy domain, file, session
// counts and rua URIs.
type SentReport struct {
	Domain     string   `json:"domain"`
	ReportID   string   `json:"report_id"`
	Filename   string   `json:"filename"`
	Size       int      `json:"size"`
	Successful int64    `json:"successful"`
	Failed     int64    `json:"failed"`
	RUA        []string `json:"rua"`
}

// NewSendView returns the view of res, what SendDay did for day.
func NewSendView(day time.Time, res *DayResult) *SendView {
	v := newSendView(day, false, res.Reports)
	v.Built, v.Deliveries = res.Built, res.Deliveries
	v.Skipped = append([]Skip{}, res.Skipped...)
	return v
}

// NewPlanView returns the view of a dry run: the reports and skipped
// domains Plan returned for day.
func NewPlanView(day time.Time, reports []Planned, skipped []Skip) *SendView {
	v := newSendView(day, true, reports)
	v.Skipped = skipped
	return v
}

func newSendView(day time.Time, dryRun bool, reports []Planned) *SendView {
	v := &SendView{Day: day.Format(time.DateOnly), DryRun: dryRun, Reports: []SentReport{}}
	for _, p := range reports {
		r := SentReport{Domain: p.Built.Domain, ReportID: p.Built.Report.ReportID, Filename: p.Built.Filename, Size: len(p.Built.Gzip), RUA: []string{}}
		for _, pr := range p.Built.Report.Policies {
			r.Successful, r.Failed = r.Successful+pr.Summary.Successful, r.Failed+pr.Summary.Failed
		}
		for _, u := range p.RUA {
			r.RUA = append(r.RUA, u.String())
		}
		v.Reports = append(v.Reports, r)
	}
	return v
}

// WriteText renders the view for people: the day, a line per report and
// skipped domain, and the deliveries made.
func (v *SendView) WriteText(out io.Writer) error {
	w := &textout.Writer{W: out}
	switch {
	case v.DryRun:
		w.Printf("%s: %d reports would be sent (dry run)\n", v.Day, len(v.Reports))
	case v.Built:
		w.Printf("%s: %d reports built\n", v.Day, len(v.Reports))
	default:
		w.Printf("%s: reports built before; retrying what is due\n", v.Day)
	}
	for _, r := range v.Reports {
		w.Printf("  %-30s  %d successful, %d failed  %d bytes  to %s\n", r.Domain, r.Successful, r.Failed, r.Size, strings.Join(r.RUA, ", "))
	}
	for _, s := range v.Skipped {
		w.Printf("  %-30s  skipped: %s\n", s.Domain, s.Reason)
	}
	if !v.DryRun {
		d := v.Deliveries
		w.Printf("deliveries: %d delivered, %d to retry, %d given up, %d suppressed, %d without transport\n",
			d.Delivered, d.Retrying, d.Failed, d.Suppressed, d.Unsendable)
	}
	return w.Err
}

// Pending is what send has still to do: the days with outcomes whose
// reports are not built yet, and the deliveries not yet done.
type Pending struct {
	Days       []PendingDay      `json:"days"`
	Deliveries []PendingDelivery `json:"deliveries"`
}

// PendingDay is a policy domain's outcomes of a day not yet built.
type PendingDay struct {
	Day        string `json:"day"`
	Domain     string `json:"domain"`
	Successful int64  `json:"successful"`
	Failed     int64  `json:"failed"`
	// State is "collecting" for today, "to send" for a past day.
	State string `json:"state"`
}

// PendingDelivery is a queued delivery not yet done.
type PendingDelivery struct {
	Day      string    `json:"day"`
	Domain   string    `json:"domain"`
	URI      string    `json:"rua"`
	ReportID string    `json:"report_id"`
	Status   string    `json:"status"`
	Attempts int       `json:"attempts"`
	Next     time.Time `json:"next_attempt"`
	Error    string    `json:"last_error,omitempty"`
}

// NewPending returns what is pending from the stored outcome totals and
// the queued deliveries not yet done; today is the current UTC day.
func NewPending(totals []reportstore.OutcomeTotal, queued []reportstore.Queued, today time.Time) (*Pending, error) {
	p := &Pending{Days: []PendingDay{}, Deliveries: []PendingDelivery{}}
	for _, t := range totals {
		if t.Built {
			continue
		}
		state := "to send"
		if !t.Day.Before(today) {
			state = "collecting"
		}
		p.Days = append(p.Days, PendingDay{Day: t.Day.Format(time.DateOnly), Domain: t.Domain, Successful: t.Successful, Failed: t.Failed, State: state})
	}
	for _, q := range queued {
		var st DeliveryState
		if err := json.Unmarshal(q.State, &st); err != nil {
			return nil, err
		}
		p.Deliveries = append(p.Deliveries, PendingDelivery{Day: q.Day.Format(time.DateOnly), Domain: q.Domain, URI: q.URI,
			ReportID: q.ReportID, Status: q.Status, Attempts: st.Attempts, Next: q.NextAttempt, Error: st.LastError})
	}
	return p, nil
}

// WriteText renders what is pending for people, a line per day and
// delivery, or "nothing to send".
func (p *Pending) WriteText(out io.Writer) error {
	w := &textout.Writer{W: out}
	if len(p.Days) == 0 && len(p.Deliveries) == 0 {
		w.Printf("nothing to send\n")
		return w.Err
	}
	for _, d := range p.Days {
		w.Printf("%s  %-30s  %d successful, %d failed  (%s)\n", d.Day, d.Domain, d.Successful, d.Failed, d.State)
	}
	for _, d := range p.Deliveries {
		w.Printf("%s  %-30s  %s  %s, %d attempts, next %s", d.Day, d.Domain, d.URI, d.Status, d.Attempts, d.Next.Format(time.RFC3339))
		if d.Error != "" {
			w.Printf(": %s", d.Error)
		}
		w.Printf("\n")
	}
	return w.Err
}
