package tlsrptsend

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/mtasts/mtasts/tlsrpt"
)

// MailOptions are the envelope and signature of a report mail.
type MailOptions struct {
	From string   // the From address, in the submitter's domain
	To   []string // the addresses of the mailto: rua URIs
	Date time.Time
	// DKIM signs the mail (RFC 8460 §5.3 asks that report mails be
	// DKIM-signed). Its HeaderKeys are set by ComposeMail when nil. RFC
	// 8460 §3 has the selector's key record declare the service type
	// "tlsrpt"; verifiers such as go-msgauth accept only keys for
	// "email", so DKIMKeyRecord publishes "s=email:tlsrpt", valid for
	// both. Nil leaves the mail unsigned.
	DKIM *dkim.SignOptions
}

// signedHeaders are the header fields a report mail's signature covers
// (RFC 6376 §5.4.1 plus those of RFC 8460 §5.3).
var signedHeaders = []string{
	"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
	"TLS-Report-Domain", "TLS-Report-Submitter", "TLS-Required",
}

// Subject returns the subject of a report mail (RFC 8460 §5.3):
//
//	Report Domain: example.com Submitter: sender.example Report-ID: <id@sender.example>
func Subject(submitter string, b *Built) string {
	return fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", b.Domain, normalDomain(submitter), b.Report.ReportID)
}

// ComposeMail writes the mail that carries a report to mailto: rua
// addresses (RFC 8460 §5.3): a multipart/report; report-type=tlsrpt
// message with the §5.3 subject, the TLS-Report-Domain and
// TLS-Report-Submitter header fields, TLS-Required: No (RFC 8689 §5) so
// that the report reaches a domain whose broken TLS it may be about, a
// short text part and the report as an application/tlsrpt+gzip
// attachment named per §5.1; DKIM-signed if o.DKIM is set. The
// Message-ID is the report-id, so a mail sent again is recognisable. Lines
// end in CRLF.
func ComposeMail(s Submitter, b *Built, o MailOptions) ([]byte, error) {
	if o.From == "" || len(o.To) == 0 {
		return nil, fmt.Errorf("tlsrptsend: report mail for %s needs From and To", b.Domain)
	}
	for _, a := range append([]string{o.From}, o.To...) {
		if strings.ContainsAny(a, "\r\n") {
			return nil, fmt.Errorf("tlsrptsend: report mail for %s: address %q holds a line break", b.Domain, a)
		}
		if _, err := mail.ParseAddress(a); err != nil {
			return nil, fmt.Errorf("tlsrptsend: report mail for %s: address %q: %w", b.Domain, a, err)
		}
	}
	sum := sha256.Sum256(b.Gzip)
	boundary := "tlsrpt-" + hex.EncodeToString(sum[:12])

	var msg bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&msg, "%s: %s\r\n", k, v) }
	header("From", o.From)
	header("To", strings.Join(o.To, ", "))
	header("Subject", Subject(s.Domain, b))
	header("Date", o.Date.Format(time.RFC1123Z))
	header("Message-ID", "<"+b.Report.ReportID+">")
	header("TLS-Report-Domain", b.Domain)
	header("TLS-Report-Submitter", normalDomain(s.Domain))
	header("TLS-Required", "No")
	header("MIME-Version", "1.0")
	header("Content-Type", mime.FormatMediaType("multipart/report", map[string]string{"report-type": "tlsrpt", "boundary": boundary}))
	msg.WriteString("\r\n")

	mw := multipart.NewWriter(&msg)
	if err := mw.SetBoundary(boundary); err != nil {
		return nil, fmt.Errorf("tlsrptsend: report mail boundary: %w", err)
	}
	text, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"text/plain; charset=us-ascii"},
		"Content-Transfer-Encoding": {"7bit"},
	})
	if err != nil {
		return nil, err
	}
	start, end := b.Report.DateRange.Start, b.Report.DateRange.End
	fmt.Fprintf(text, "This is an aggregate TLS report (RFC 8460) from %s about %s\r\nfor %s to %s.\r\n",
		s.OrganizationName, b.Domain, start.Format(time.RFC3339), end.Format(time.RFC3339))
	att, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {mime.FormatMediaType(tlsrpt.MediaTypeGzip, map[string]string{"name": b.Filename})},
		"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": b.Filename})},
		"Content-Transfer-Encoding": {"base64"},
	})
	if err != nil {
		return nil, err
	}
	enc := base64.StdEncoding.EncodeToString(b.Gzip)
	for len(enc) > 76 {
		fmt.Fprintf(att, "%s\r\n", enc[:76])
		enc = enc[76:]
	}
	fmt.Fprintf(att, "%s\r\n", enc)
	if err := mw.Close(); err != nil {
		return nil, err
	}
	if o.DKIM == nil {
		return msg.Bytes(), nil
	}
	opts := *o.DKIM
	if opts.HeaderKeys == nil {
		opts.HeaderKeys = signedHeaders
	}
	var signed bytes.Buffer
	if err := dkim.Sign(&signed, &msg, &opts); err != nil {
		return nil, fmt.Errorf("tlsrptsend: DKIM-signing the report mail for %s: %w", b.Domain, err)
	}
	return signed.Bytes(), nil
}

// DKIMKeyRecord returns the DNS TXT record of a DKIM public key (RFC 6376
// §3.6.1) for report mails: "v=DKIM1; k=ed25519; s=email:tlsrpt; p=...".
// The service types name tlsrpt, as RFC 8460 §3 asks of report-signing
// keys, and email, without which common verifiers refuse the key. pub is
// an ed25519.PublicKey or an *rsa.PublicKey.
func DKIMKeyRecord(pub crypto.PublicKey) (string, error) {
	var k string
	var p []byte
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		k, p = "ed25519", pub
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", fmt.Errorf("tlsrptsend: DKIM key record: %w", err)
		}
		k, p = "rsa", der
	default:
		return "", fmt.Errorf("tlsrptsend: DKIM key record: unsupported key type %T", pub)
	}
	return "v=DKIM1; k=" + k + "; s=email:tlsrpt; p=" + base64.StdEncoding.EncodeToString(p), nil
}
