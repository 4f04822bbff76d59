package tlsrptsend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// DeliverDue makes one attempt at every queued delivery that is due, of
// any day, as the holder of the store's lease, which it renews before
// each attempt. Each delivery's state is stored before and after its
// attempt (RFC 8460 §5.5: retries for 24 hours).
func (s *Sender) DeliverDue(ctx context.Context) (Deliveries, error) {
	if err := s.lease(ctx); err != nil {
		return Deliveries{}, err
	}
	defer s.Store.ReleaseLease(context.WithoutCancel(ctx), LeaseName, s.holder())
	return s.deliverDue(ctx)
}

// deliverDue is DeliverDue once the lease is held.
func (s *Sender) deliverDue(ctx context.Context) (n Deliveries, err error) {
	defer func() { s.Metrics.delivered(n) }()
	due, err := s.Store.QueuedReports(ctx, reportstore.QueueFilter{
		Statuses: []string{string(DeliveryPending), string(DeliverySending)}, DueBy: s.now(), WithData: true,
	})
	if err != nil {
		return n, err
	}
	for _, q := range due {
		if err := s.lease(ctx); err != nil {
			return n, err // renewing failed: another sender took over
		}
		if err := s.deliverOne(ctx, q, &n); err != nil {
			return n, err
		}
	}
	return n, nil
}

// deliverOne makes one attempt at q and counts it in n; it returns only
// errors that stop the whole run (the store's, a cancelled ctx).
func (s *Sender) deliverOne(ctx context.Context, q reportstore.Queued, n *Deliveries) error {
	var st DeliveryState
	if err := json.Unmarshal(q.State, &st); err != nil {
		return fmt.Errorf("tlsrptsend: delivery state of %s to %s: %w", q.ReportID, q.URI, err)
	}
	for _, target := range []string{q.Domain, q.URI} {
		sup, err := s.Store.Suppressed(ctx, target, s.MaxFailures)
		if err != nil {
			return err
		}
		if sup != nil {
			st.Status, st.Done, st.LastError = DeliveryFailed, s.now(), "suppressed: "+target+": "+sup.Reason
			n.Suppressed++
			return s.save(ctx, &q, &st)
		}
	}
	send, err := s.transport(q)
	if err != nil {
		n.Unsendable++
		st.Status, st.Done, st.LastError = DeliveryFailed, s.now(), err.Error()
		return s.save(ctx, &q, &st)
	}
	// Before the attempt: a holder that stops now leaves "sending".
	q.Status = string(DeliverySending)
	if err := s.saveRow(ctx, &q, &st); err != nil {
		return err
	}
	// An attempt ends well before the lease, renewed just before it,
	// could pass to another sender.
	try := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, s.leaseTTL()/2)
		defer cancel()
		return send(ctx)
	}
	final, cancelled := st.attempt(ctx, s.now, s.https().backoff, try)
	if cancelled != nil {
		q.Status = string(DeliveryPending) // not attempted
		return errors.Join(cancelled, s.saveRow(context.WithoutCancel(ctx), &q, &st))
	}
	// After the attempt: its state first, then what it says of the rua.
	if err := s.save(ctx, &q, &st); err != nil {
		return err
	}
	switch st.Status {
	case DeliveryDelivered:
		n.Delivered++
		s.log().Info("TLS report delivered", "report", q.ReportID, "rua", q.URI, "attempts", st.Attempts)
		return s.Store.ResetFailures(ctx, q.URI)
	case DeliveryFailed:
		n.Failed++
		s.log().Warn("TLS report given up", "report", q.ReportID, "rua", q.URI, "err", final)
		_, err := s.Store.CountFailure(ctx, q.URI, st.LastError)
		return err
	}
	n.Retrying++
	s.log().Info("TLS report to be retried", "report", q.ReportID, "rua", q.URI, "next", st.Next, "err", st.LastError)
	return nil
}

// transport returns the attempt function for q's rua.
func (s *Sender) transport(q reportstore.Queued) (func(context.Context) error, error) {
	// The rua as the record parser reads it (RFC 8460 §3).
	rec, err := tlsrpt.ParseRecord("v=TLSRPTv1; rua=" + q.URI)
	switch {
	case err != nil:
		return nil, fmt.Errorf("tlsrptsend: rua %q: %w", q.URI, err)
	case len(rec.RUA) != 1:
		return nil, fmt.Errorf("tlsrptsend: rua %q is not one URI", q.URI)
	}
	u := rec.RUA[0]
	switch {
	case u.IsHTTPS():
		st := &DeliveryState{URI: q.URI, ReportID: q.ReportID}
		return func(ctx context.Context) error { return s.https().post(ctx, st, q.Report) }, nil
	case u.IsMailto() && s.Mail != nil:
		return func(ctx context.Context) error { return s.sendMail(ctx, q, u.Addresses()) }, nil
	}
	return nil, fmt.Errorf("tlsrptsend: no transport for rua %s", q.URI)
}

// sendMail composes the report mail of q for the addresses to and sends
// it (RFC 8460 §5.3).
func (s *Sender) sendMail(ctx context.Context, q reportstore.Queued, to []string) error {
	rep, _, err := tlsrpt.Parse(bytes.NewReader(q.Report), tlsrpt.ParseOptions{})
	if err != nil {
		return fmt.Errorf("%w: queued report %s unreadable: %w", ErrRefused, q.ReportID, err)
	}
	b := &Built{Report: rep, Domain: q.Domain, Gzip: q.Report, Filename: q.Filename}
	from := s.MailFrom
	if from == "" {
		from = "noreply-smtp-tls-reporting@" + normalDomain(s.Submitter.Domain)
	}
	msg, err := ComposeMail(s.Submitter, b, MailOptions{From: from, To: to, Date: s.now(), DKIM: s.DKIM})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return s.Mail.SendMail(ctx, from, to, msg)
}

// save stores q with the status and state of st.
func (s *Sender) save(ctx context.Context, q *reportstore.Queued, st *DeliveryState) error {
	q.Status = string(st.Status)
	return s.saveRow(ctx, q, st)
}

// saveRow stores q with state st and q's own status.
func (s *Sender) saveRow(ctx context.Context, q *reportstore.Queued, st *DeliveryState) error {
	if err := setState(q, st); err != nil {
		return err
	}
	return s.Store.UpdateQueued(ctx, *q)
}

// setState puts st into q: its JSON, next attempt and, unless q is
// being attempted, status.
func setState(q *reportstore.Queued, st *DeliveryState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("tlsrptsend: delivery state of %s: %w", st.ReportID, err)
	}
	q.State, q.NextAttempt = data, st.Next
	if q.Status == "" {
		q.Status = string(st.Status)
	}
	if q.NextAttempt.IsZero() {
		q.NextAttempt = time.Unix(0, 0)
	}
	return nil
}

func (s *Sender) https() *HTTPSDeliverer {
	if s.HTTPS != nil {
		return s.HTTPS
	}
	return &HTTPSDeliverer{}
}
