package tlsrptsend

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// Sender builds the daily reports of the outcomes in a report store and
// delivers them (RFC 8460 §4, §5). For every policy domain with outcomes
// on a UTC day it looks up the domain's _smtp._tls record (§3), builds
// one report, and queues one delivery per rua URI: https: by
// HTTPSDeliverer (§5.4), mailto: by ComposeMail and Mail (§5.3). Domains
// without a usable record, suppressed or whose report is over
// MaxReportSize are skipped and counted.
//
// Several Senders may share one store: a lease in the store lets one of
// them at a time build and deliver, and a delivery's state is stored
// before and after every attempt, so that each report goes to each rua
// once even when a sender stops or crashes and another takes over once
// its lease has expired. The one case that can repeat a delivery is a
// crash during an attempt, after the receiver took the report and before
// its answer was stored: the report is sent again with the same
// report-id (and, by mail, Message-ID), by which a receiver tells it.
type Sender struct {
	Store     *reportstore.Store
	Submitter Submitter
	// DNS looks up _smtp._tls records (RFC 8460 §3).
	DNS *dnsx.Client
	// HTTPS posts to https: rua; nil means an HTTPSDeliverer with its
	// defaults. Its Now, Sleep and Save are not used: the Sender keeps
	// the schedule and the state.
	HTTPS *HTTPSDeliverer
	// Mail sends report mail to mailto: rua; nil leaves mailto: rua
	// undelivered (counted in DayResult.Unsendable).
	Mail MailTransport
	// MailFrom is the From of report mail; empty means
	// noreply-smtp-tls-reporting@ the submitter's domain.
	MailFrom string
	// DKIM signs report mail (RFC 8460 §5.3); nil leaves it unsigned.
	DKIM *dkim.SignOptions

	// Now is the clock (time.Now if nil); Sleep waits (a timer if nil).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Delay returns the wait after midnight UTC before a day's reports
	// are built and sent, which spreads the load on receivers (RFC 8460
	// §4.1); nil means MinDelay plus a random delay under MaxDelay.
	Delay func() time.Duration

	// Holder names this sender in the lease; empty means the host name
	// and a random suffix.
	Holder string
	// LeaseTTL is how long a lease lasts without renewal: how long a
	// crashed sender's work waits before another takes it over. Zero
	// means DefaultLeaseTTL. Each attempt is cut off after half of it.
	LeaseTTL time.Duration

	// MaxReportSize, if positive, bounds a gzipped report: a larger one
	// is not sent (counted in DayResult.Skipped).
	MaxReportSize int
	// ArchiveDir, if set, receives a copy of every report built, under
	// its RFC 8460 §5.1 file name.
	ArchiveDir string
	// MaxFailures, if positive, suppresses a rua after that many
	// deliveries in a row given up for good.
	MaxFailures int64

	Log *slog.Logger
	// Metrics, if set, counts reports and deliveries.
	Metrics *Metrics

	holderOnce sync.Once
}

// Defaults of Sender.
const (
	DefaultLeaseTTL = 10 * time.Minute
	MaxDelay        = time.Hour
	// MinDelay leaves collectors that flush every few minutes
	// (StoreRecorder) the time to store a day's last outcomes before its
	// reports are built.
	MinDelay = 5 * time.Minute
	// LeaseName names the lease of the senders in the report store.
	LeaseName = "tlsrpt-send"
)

// Errors of Sender.
var (
	// ErrLeaseHeld: another sender holds the lease; it does the work.
	ErrLeaseHeld = errors.New("tlsrptsend: another sender holds the lease of the report store")
	// ErrTooEarly: the day asked for is not over (RFC 8460 §4.1).
	ErrTooEarly = errors.New("tlsrptsend: the day is not over")
)

// Skip is a policy domain whose report is not sent, and why.
type Skip struct {
	Domain string `json:"domain"`
	Reason string `json:"reason"`
}

// Planned is the report of one policy domain for one day, built, and
// the rua URIs it goes to (RFC 8460 §3).
type Planned struct {
	Built *Built
	RUA   []tlsrpt.ReportURI
}

// DayResult is what SendDay did.
type DayResult struct {
	Day     time.Time
	Built   bool      // this call built the day's reports (false: they were already)
	Reports []Planned // the reports built, when Built
	Skipped []Skip    // domains without a report, when Built
	Deliveries
}

// Deliveries counts what DeliverDue did.
type Deliveries struct {
	Delivered  int `json:"delivered"`
	Retrying   int `json:"retrying"`   // failed, to be tried again
	Failed     int `json:"failed"`     // given up for good
	Suppressed int `json:"suppressed"` // not sent: the domain or rua is suppressed
	Unsendable int `json:"unsendable"` // no transport for the rua's scheme
}

// ReadyAt returns when the reports of the UTC day of day are due: the
// next midnight plus delay (RFC 8460 §4.1).
func ReadyAt(day time.Time, delay time.Duration) time.Time {
	return Day(day).Add(24*time.Hour + delay)
}

// SendDay builds the reports of the UTC day of day, unless they were
// built, queues their deliveries and makes every delivery that is due
// (of that day and of earlier ones). Unless now, it first waits for the
// random delay after the end of the day (RFC 8460 §4.1). It returns
// ErrLeaseHeld if another sender holds the lease, ErrTooEarly for a day
// not over.
func (s *Sender) SendDay(ctx context.Context, day time.Time, now bool) (*DayResult, error) {
	day = Day(day)
	if !s.now().After(day.Add(24 * time.Hour)) {
		return nil, fmt.Errorf("%w: %s", ErrTooEarly, day.Format(time.DateOnly))
	}
	if !now {
		if wait := ReadyAt(day, s.delay()).Sub(s.now()); wait > 0 {
			if err := s.sleep(ctx, wait); err != nil {
				return nil, err
			}
		}
	}
	if err := s.lease(ctx); err != nil {
		return nil, err
	}
	defer s.Store.ReleaseLease(context.WithoutCancel(ctx), LeaseName, s.holder())
	res := &DayResult{Day: day}
	built, err := s.Store.DayBuilt(ctx, day)
	if err != nil {
		return nil, err
	}
	if !built {
		res.Reports, res.Skipped, err = s.Plan(ctx, day)
		if err != nil {
			return nil, err
		}
		if err := s.queue(ctx, day, res.Reports); err != nil {
			return nil, err
		}
		if res.Built, err = s.Store.MarkDayBuilt(ctx, day, len(res.Reports), len(res.Skipped)); err != nil {
			return nil, err
		}
		s.Metrics.day(len(res.Reports), len(res.Skipped))
	}
	res.Deliveries, err = s.deliverDue(ctx)
	return res, err
}

// Plan builds the reports of the UTC day of day without queueing them:
// what SendDay would send, for a dry run. A temporary DNS failure fails
// it, so that the day is built again later rather than skip a domain.
func (s *Sender) Plan(ctx context.Context, day time.Time) ([]Planned, []Skip, error) {
	day = Day(day)
	totals, err := s.Store.OutcomeTotals(ctx, day, day.Add(24*time.Hour))
	if err != nil {
		return nil, nil, err
	}
	var plan []Planned
	var skipped []Skip
	for _, t := range totals {
		if sup, err := s.Store.Suppressed(ctx, t.Domain, 0); err != nil {
			return nil, nil, err
		} else if sup != nil {
			skipped = append(skipped, Skip{t.Domain, "suppressed: " + sup.Reason})
			continue
		}
		rec, err := s.lookupRecord(ctx, t.Domain)
		switch {
		case dnsx.IsTemporary(err):
			return nil, nil, fmt.Errorf("tlsrptsend: _smtp._tls record of %s: %w", t.Domain, err)
		case err != nil:
			skipped = append(skipped, Skip{t.Domain, err.Error()})
			continue
		}
		results, err := s.Store.OutcomeResults(ctx, day, t.Domain)
		if err != nil {
			return nil, nil, err
		}
		for i := range results {
			slices.SortFunc(results[i].FailureDetails, compareFailures)
		}
		b, err := Build(s.Submitter, day, t.Domain, results)
		if err != nil {
			skipped = append(skipped, Skip{t.Domain, err.Error()})
			continue
		}
		if s.MaxReportSize > 0 && len(b.Gzip) > s.MaxReportSize {
			skipped = append(skipped, Skip{t.Domain, fmt.Sprintf("report of %d bytes over the limit of %d", len(b.Gzip), s.MaxReportSize)})
			continue
		}
		plan = append(plan, Planned{Built: b, RUA: rec.RUA})
	}
	return plan, skipped, nil
}

// lookupRecord returns the _smtp._tls record of domain (RFC 8460 §3).
func (s *Sender) lookupRecord(ctx context.Context, domain string) (*tlsrpt.Record, error) {
	txts, err := s.DNS.LookupTXT(ctx, "_smtp._tls."+domain+".")
	if err != nil {
		if dnsx.IsNotFound(err) {
			return nil, fmt.Errorf("no _smtp._tls record: %w", err)
		}
		return nil, err
	}
	rec, err := tlsrpt.SelectRecord(txts)
	if err != nil {
		return nil, fmt.Errorf("_smtp._tls record: %w", err)
	}
	return rec, nil
}

// queue archives the reports of plan and queues one delivery per rua.
func (s *Sender) queue(ctx context.Context, day time.Time, plan []Planned) error {
	for _, p := range plan {
		if s.ArchiveDir != "" {
			if err := os.WriteFile(filepath.Join(s.ArchiveDir, p.Built.Filename), p.Built.Gzip, 0o640); err != nil {
				return fmt.Errorf("tlsrptsend: archiving the report for %s: %w", p.Built.Domain, err)
			}
		}
		for _, uri := range p.RUA {
			st := NewDeliveryState(uri.String(), p.Built.Report.ReportID)
			q := reportstore.Queued{Day: day, Domain: p.Built.Domain, URI: st.URI, ReportID: st.ReportID,
				Filename: p.Built.Filename, Report: p.Built.Gzip}
			if err := setState(&q, st); err != nil {
				return err
			}
			if _, err := s.Store.Enqueue(ctx, q); err != nil {
				return err
			}
		}
	}
	return nil
}

// lease takes or renews the store's lease for this sender.
func (s *Sender) lease(ctx context.Context) error {
	ok, err := s.Store.AcquireLease(ctx, LeaseName, s.holder(), s.leaseTTL())
	if err != nil {
		return err
	}
	if !ok {
		return ErrLeaseHeld
	}
	return nil
}

func (s *Sender) leaseTTL() time.Duration {
	if s.LeaseTTL <= 0 {
		return DefaultLeaseTTL
	}
	return s.LeaseTTL
}

func (s *Sender) holder() string {
	s.holderOnce.Do(func() {
		if s.Holder == "" {
			host, _ := os.Hostname()
			s.Holder = host + "-" + crand.Text()[:10]
		}
	})
	return s.Holder
}

func (s *Sender) now() time.Time { return clockNow(s.Now) }

func (s *Sender) sleep(ctx context.Context, d time.Duration) error { return sleepWith(ctx, s.Sleep, d) }

func (s *Sender) delay() time.Duration {
	if s.Delay != nil {
		return s.Delay()
	}
	return MinDelay + rand.N(MaxDelay)
}

func (s *Sender) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}
