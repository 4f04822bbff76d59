package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mtasts/mtasts/reportstore"
)

// IMAPConfig says where an IMAPPoller reads report mail.
type IMAPConfig struct {
	// Addr is the server, host:port.
	Addr string
	// Security is "tls" (implicit TLS, port 993; the default),
	// "starttls" (port 143) or "insecure" (no TLS, for loopback only).
	Security string
	// TLSConfig configures TLS; nil means the system roots and the host of
	// Addr as server name.
	TLSConfig *tls.Config
	// Username and Password log in (IMAP LOGIN).
	Username, Password string
	// Mailbox is read; "" means INBOX.
	Mailbox string
	// Processed receives the mail that has been stored, as a report or in
	// quarantine; "" means DefaultProcessedMailbox. It is created if
	// missing.
	Processed string
	// Interval is the time between polls of Run; 0 means five minutes.
	Interval time.Duration
	// BatchSize is how many mails are fetched and stored at a time; 0
	// means 50.
	BatchSize int
	// Timeout bounds connecting; 0 means 30 seconds.
	Timeout time.Duration
}

// DefaultProcessedMailbox is where stored report mail is moved by
// default.
const DefaultProcessedMailbox = "TLSRPT-Processed"

// IMAPPoller reads report mail from an IMAP mailbox (RFC 9051), stores
// the reports and moves each mail it has stored to the processed mailbox.
// A mail whose report could not be stored stays where it is and is tried
// again at the next poll.
type IMAPPoller struct {
	in  *Ingester
	cfg IMAPConfig
}

// PollStats counts what one poll did.
type PollStats struct {
	Seen, Accepted, Duplicates, Quarantined, Failed int
}

// NewIMAPPoller returns a poller storing into in.
func (in *Ingester) NewIMAPPoller(cfg IMAPConfig) *IMAPPoller {
	if cfg.Mailbox == "" {
		cfg.Mailbox = "INBOX"
	}
	if cfg.Processed == "" {
		cfg.Processed = DefaultProcessedMailbox
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Minute
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 50
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &IMAPPoller{in: in, cfg: cfg}
}

// Run polls until ctx ends, logging failed polls, and returns ctx's error.
func (p *IMAPPoller) Run(ctx context.Context) error {
	for {
		if _, err := p.Poll(ctx); err != nil && ctx.Err() == nil {
			p.in.log.Warn("IMAP poll failed", "addr", p.cfg.Addr, "mailbox", p.cfg.Mailbox, "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.cfg.Interval):
		}
	}
}

// Poll reads the mailbox once: it logs in, stores every mail's report
// and moves the stored mail to the processed mailbox.
func (p *IMAPPoller) Poll(ctx context.Context) (PollStats, error) {
	var stats PollStats
	c, err := p.dial()
	if err != nil {
		return stats, fmt.Errorf("ingest: IMAP %s: %w", p.cfg.Addr, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Login(p.cfg.Username, p.cfg.Password).Wait(); err != nil {
		return stats, fmt.Errorf("ingest: IMAP login as %s: %w", p.cfg.Username, err)
	}
	if err := p.ensureMailbox(c, p.cfg.Processed); err != nil {
		return stats, err
	}
	if _, err := c.Select(p.cfg.Mailbox, nil).Wait(); err != nil {
		return stats, fmt.Errorf("ingest: IMAP select %s: %w", p.cfg.Mailbox, err)
	}
	found, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		return stats, fmt.Errorf("ingest: IMAP search: %w", err)
	}
	uids := found.AllUIDs()
	for len(uids) > 0 {
		n := min(len(uids), p.cfg.BatchSize)
		if err := p.pollBatch(ctx, c, uids[:n], &stats); err != nil {
			return stats, err
		}
		uids = uids[n:]
	}
	if err := c.Logout().Wait(); err != nil && ctx.Err() == nil {
		p.in.log.Debug("IMAP logout", "err", err)
	}
	return stats, ctx.Err()
}

// pollBatch fetches, stores and moves the mails with the given UIDs.
func (p *IMAPPoller) pollBatch(ctx context.Context, c *imapclient.Client, uids []imap.UID, stats *PollStats) error {
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return fmt.Errorf("ingest: IMAP fetch: %w", err)
	}
	var inputs []Input
	var fetched []imap.UID
	for _, m := range msgs {
		body := m.FindBodySection(section)
		if body == nil {
			continue
		}
		fetched = append(fetched, m.UID)
		inputs = append(inputs, Input{Data: body, Kind: KindMail, Source: reportstore.SourceIMAP,
			Origin: fmt.Sprintf("imap://%s/%s;UID=%d", p.cfg.Addr, p.cfg.Mailbox, m.UID)})
	}
	var done []imap.UID
	for i, out := range p.in.IngestBatch(ctx, inputs) {
		stats.Seen++
		switch {
		case out.Err != nil:
			stats.Failed++
			continue
		case out.Outcome == reportstore.Accepted:
			stats.Accepted++
		case out.Outcome == reportstore.Duplicate:
			stats.Duplicates++
		case out.Outcome == reportstore.Quarantined:
			stats.Quarantined++
		}
		done = append(done, fetched[i])
	}
	if len(done) == 0 {
		return nil
	}
	// The reports are committed: only now may the mail leave the inbox.
	if _, err := c.Move(imap.UIDSetNum(done...), p.cfg.Processed).Wait(); err != nil {
		return fmt.Errorf("ingest: IMAP move to %s: %w", p.cfg.Processed, err)
	}
	return nil
}

// ensureMailbox creates mailbox unless it exists.
func (p *IMAPPoller) ensureMailbox(c *imapclient.Client, mailbox string) error {
	list, err := c.List("", mailbox, nil).Collect()
	if err != nil {
		return fmt.Errorf("ingest: IMAP list: %w", err)
	}
	if len(list) > 0 {
		return nil
	}
	if err := c.Create(mailbox, nil).Wait(); err != nil {
		var ierr *imap.Error
		if errors.As(err, &ierr) && ierr.Code == imap.ResponseCodeAlreadyExists {
			return nil
		}
		return fmt.Errorf("ingest: IMAP create %s: %w", mailbox, err)
	}
	return nil
}

func (p *IMAPPoller) dial() (*imapclient.Client, error) {
	opts := &imapclient.Options{Dialer: &net.Dialer{Timeout: p.cfg.Timeout}, TLSConfig: p.cfg.TLSConfig}
	switch p.cfg.Security {
	case "", "tls":
		return imapclient.DialTLS(p.cfg.Addr, opts)
	case "starttls":
		return imapclient.DialStartTLS(p.cfg.Addr, opts)
	case "insecure":
		return imapclient.DialInsecure(p.cfg.Addr, opts)
	}
	return nil, fmt.Errorf("security %q: want tls, starttls or insecure", p.cfg.Security)
}
