package tlsrptsend_test

import (
	"context"
	"log"
	"net/netip"
	"time"

	"github.com/mtasts/mtasts/deliver"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrptsend"
)

// A long-running process reports as a sending MTA: outcomes go to the
// store through a StoreRecorder (here from Postfix's log), and the
// Scheduler sends each day's reports once, whichever of the processes
// sharing the store holds the lease.
func ExampleScheduler() {
	ctx := context.Background()
	store, err := reportstore.Open(ctx, "postgres://mtasts@db.example.net/mtasts", reportstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	dns, err := dnsx.NewFromAddr("")
	if err != nil {
		log.Fatal(err)
	}

	rec := tlsrptsend.NewStoreRecorder(store)
	rec.Start(time.Minute)
	defer rec.Close(context.WithoutCancel(ctx))
	parser := tlsrptsend.NewPostfixParser(nil, netip.MustParseAddr("192.0.2.1"), time.Local, nil)
	go (&tlsrptsend.PostfixLog{Parser: parser, Path: "/var/log/mail.log", FromEnd: true}).Run(ctx, rec)

	sender := &tlsrptsend.Sender{
		Store:     store,
		Submitter: tlsrptsend.Submitter{OrganizationName: "Example Mail", ContactInfo: "postmaster@example.net", Domain: "example.net"},
		DNS:       dns,
		// Report mail goes directly to the rua's MX hosts, whatever
		// their MTA-STS policy (RFC 8460 §5.3).
		Mail: tlsrptsend.DirectMail{Sender: &deliver.Sender{DNS: dns, Opportunistic: true, HeloName: "mail.example.net"}},
	}
	sc := &tlsrptsend.Scheduler{Sender: sender, Recorder: rec}
	if err := sc.Run(ctx); err != nil {
		log.Print(err)
	}
}
