package ingest

import (
	"context"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/reportstore"
)

// login opens an IMAP session on the Dovecot server, closed at cleanup.
func login(t *testing.T, d *testservers.Dovecot) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(d.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(d.User, d.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// appendMail puts mails into a mailbox of the Dovecot server.
func appendMail(t *testing.T, d *testservers.Dovecot, mailbox string, mails ...[]byte) {
	t.Helper()
	c := login(t, d)
	for _, m := range mails {
		cmd := c.Append(mailbox, int64(len(m)), nil)
		if _, err := cmd.Write(m); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
}

// countMail returns the number of mails in each mailbox.
func countMail(t *testing.T, d *testservers.Dovecot, mailboxes ...string) []uint32 {
	t.Helper()
	c := login(t, d)
	var n []uint32
	for _, mb := range mailboxes {
		st, err := c.Status(mb, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			t.Fatalf("STATUS %s: %v", mb, err)
		}
		n = append(n, *st.NumMessages)
	}
	return n
}

func TestIMAPPoller(t *testing.T) {
	d := testservers.StartDovecot(t)
	in, store := newIngester(t, Config{})
	ctx := context.Background()
	appendMail(t, d, "INBOX", readFile(t, "mail/google.eml"), readFile(t, "mail/microsoft.eml"),
		readFile(t, "bad/newsletter.eml"), readFile(t, "mail/forwarded.eml"))
	p := in.NewIMAPPoller(IMAPConfig{Addr: d.Addr, Security: "insecure", Username: d.User, Password: d.Password, BatchSize: 3})
	stats, err := p.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := PollStats{Seen: 4, Accepted: 2, Duplicates: 1, Quarantined: 1}
	if stats != want {
		t.Errorf("poll = %+v, want %+v", stats, want)
	}
	if n := countMail(t, d, "INBOX", DefaultProcessedMailbox); n[0] != 0 || n[1] != 4 {
		t.Errorf("INBOX has %d mails, %s %d; want 0, 4", n[0], DefaultProcessedMailbox, n[1])
	}
	page, err := store.ListReports(ctx, reportstore.ListOptions{})
	if err != nil || page.Total != 2 || page.Reports[0].Source != reportstore.SourceIMAP {
		t.Errorf("stored %+v, %v", page, err)
	}

	// With the store down, mail stays in the inbox for the next poll.
	appendMail(t, d, "INBOX", readFile(t, "mail/mailru.eml"))
	store.Close()
	stats, err = p.Poll(ctx)
	if err != nil || stats.Failed != 1 {
		t.Errorf("poll with the store down = %+v, %v", stats, err)
	}
	if n := countMail(t, d, "INBOX"); n[0] != 1 {
		t.Errorf("INBOX has %d mails after a failed store, want 1", n[0])
	}

	bad := in.NewIMAPPoller(IMAPConfig{Addr: d.Addr, Security: "insecure", Username: d.User, Password: "wrong"})
	if _, err := bad.Poll(ctx); err == nil {
		t.Error("poll with a wrong password succeeded")
	}
}
