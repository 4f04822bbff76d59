package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// sessionKinds is the mix of outgoing sessions in the generated log, in
// per mille: mostly verified deliveries, then the failures a sender sees.
var sessionKinds = []struct {
	kind     string
	perMille int
}{
	{"verified", 800}, {"selfsigned", 60}, {"expired", 30}, {"mismatch", 20},
	{"nostarttls", 30}, {"handshake", 20}, {"twomx", 20}, {"nopolicy-plain", 20},
}

// generate writes a Postfix mail log of at least lines lines, as Debian's
// Postfix writes it through syslog: for each message the inbound smtpd(8)
// lines, cleanup and qmgr, the outgoing smtp(8) session lines of one of
// sessionKinds, and the removal. About 30 % of the lines are smtp(8)
// lines the collector works on; the rest it must skip.
func generate(w io.Writer, lines int, domains int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	rng := rand.New(rand.NewPCG(8460, 8461))
	t := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	n := 0
	emit := func(prog string, pid int, format string, args ...any) {
		fmt.Fprintf(bw, "%s mail %s[%d]: ", t.Format(time.Stamp), prog, pid)
		fmt.Fprintf(bw, format, args...)
		bw.WriteByte('\n')
		n++
	}
	for msg := 0; n < lines; msg++ {
		t = t.Add(time.Duration(rng.IntN(40)) * time.Millisecond)
		qid := fmt.Sprintf("%X", 0x4DE5F900000+msg)
		smtpd, smtp := 20000+rng.IntN(50), 30000+rng.IntN(100)
		client := fmt.Sprintf("client%d.example.net[198.51.100.%d]", rng.IntN(200), 1+rng.IntN(250))
		d := rng.IntN(domains)
		domain := fmt.Sprintf("d%d.example", d)
		mx := "mx1." + domain
		mxIP := fmt.Sprintf("203.0.%d.%d", d/250, 1+d%250)
		emit("postfix/smtpd", smtpd, "connect from %s", client)
		emit("postfix/smtpd", smtpd, "Anonymous TLS connection established from %s: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256", client)
		emit("postfix/smtpd", smtpd, "%s: client=%s, sasl_method=PLAIN, sasl_username=user%d", qid, client, rng.IntN(1000))
		emit("postfix/cleanup", 15959, "%s: message-id=<%d.%d@example.net>", qid, msg, rng.Int64())
		emit("postfix/qmgr", 15955, "%s: from=<user%d@example.net>, size=%d, nrcpt=1 (queue active)", qid, rng.IntN(1000), 1000+rng.IntN(100000))
		emit("postfix/smtpd", smtpd, "disconnect from %s ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8", client)
		pick, kind := rng.IntN(1000), ""
		for _, k := range sessionKinds {
			if pick < k.perMille {
				kind = k.kind
				break
			}
			pick -= k.perMille
		}
		tlsSummary := "TLS connection established to %s[%s]:25: TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256"
		status := func(relay, relayIP, dsn, st, reason string) {
			emit("postfix/smtp", smtp, "%s: to=<user%d@%s>, relay=%s[%s]:25, delay=0.%d, delays=0.09/0.06/0.14/0.02, dsn=%s, status=%s (%s)", qid, rng.IntN(1000), domain, relay, relayIP, rng.IntN(99), dsn, st, reason)
		}
		switch kind {
		case "verified":
			emit("postfix/smtp", smtp, "Verified "+tlsSummary, mx, mxIP)
			status(mx, mxIP, "2.0.0", "sent", "250 2.0.0 OK: queued as 4Qx"+qid)
		case "selfsigned", "expired", "mismatch":
			reason := map[string]string{"selfsigned": "self-signed certificate", "expired": "certificate has expired", "mismatch": "num=62:hostname mismatch"}[kind]
			emit("postfix/smtp", smtp, "server certificate verification failed for %s[%s]:25: %s", mx, mxIP, reason)
			emit("postfix/smtp", smtp, "Untrusted "+tlsSummary, mx, mxIP)
			status(mx, mxIP, "4.7.5", "deferred", "Server certificate not verified")
		case "nostarttls":
			status(mx, mxIP, "4.7.4", "deferred", fmt.Sprintf("TLS is required, but was not offered by host %s[%s]", mx, mxIP))
		case "handshake":
			emit("postfix/smtp", smtp, "SSL_connect error to %s[%s]:25: -1", mx, mxIP)
			emit("postfix/smtp", smtp, "warning: TLS library problem: error:0A00042E:SSL routines::tlsv1 alert protocol version:../ssl/record/rec_layer_s3.c:1601:SSL alert number 70:")
			status(mx, mxIP, "4.7.5", "deferred", "Cannot start TLS: handshake failure")
		case "twomx":
			emit("postfix/smtp", smtp, "certificate verification failed for %s[%s]:25: self-signed certificate", mx, mxIP)
			emit("postfix/smtp", smtp, "Untrusted "+tlsSummary, mx, mxIP)
			emit("postfix/smtp", smtp, "%s: Server certificate not verified", qid)
			mx2, mx2IP := "mx2."+domain, fmt.Sprintf("203.1.%d.%d", d/250, 1+d%250)
			emit("postfix/smtp", smtp, "Verified "+tlsSummary, mx2, mx2IP)
			status(mx2, mx2IP, "2.0.0", "sent", "250 2.0.0 OK")
		case "nopolicy-plain":
			status(mx, mxIP, "2.0.0", "sent", "250 2.0.0 Ok: queued")
		}
		emit("postfix/qmgr", 15955, "%s: removed", qid)
	}
	return bw.Flush()
}
