package tlsrptsend

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/tlsrpt"
)

// TestComposeMail composes the mail of a report (RFC 8460 §5.3), signs it
// with an Ed25519 and an RSA key whose records a testworld DNS serves,
// reads it back with tlsrpt.ParseMessage (the report identical, no
// diagnostic) and verifies its signature with go-msgauth over that DNS.
func TestComposeMail(t *testing.T) {
	w := testworld.New(t)
	dc, err := dnsx.NewFromAddr(w.Resolver())
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(name string) ([]string, error) { return dc.LookupTXT(t.Context(), name) }

	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b := mailReport(t)
	for _, sel := range []struct {
		name   string
		signer crypto.Signer
	}{{"tlsrpt", edKey}, {"tlsrpt-rsa", rsaKey}} {
		rec, err := DKIMKeyRecord(sel.signer.Public())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rec, "s=email:tlsrpt;") {
			t.Errorf("key record %q does not declare the tlsrpt service", rec)
		}
		w.DNS.TXT(sel.name+"._domainkey.sender.test", rec)
		t.Run(sel.name, func(t *testing.T) {
			opts := &dkim.SignOptions{Domain: "sender.test", Selector: sel.name, Signer: sel.signer}
			msg, err := ComposeMail(testSubmitter, b, MailOptions{
				From: "tlsrpt-noreply@sender.test",
				To:   []string{"tlsrpt@example.com"},
				Date: time.Date(2026, 12, 8, 0, 20, 0, 0, time.UTC),
				DKIM: opts,
			})
			if err != nil {
				t.Fatal(err)
			}
			mr, err := tlsrpt.ParseMessage(bytes.NewReader(msg), tlsrpt.ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(mr.Diagnostics) != 0 {
				t.Errorf("diagnostics: %v", mr.Diagnostics)
			}
			if diff := cmp.Diff(b.Report, mr.Report, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("report read back (-sent +read):\n%s", diff)
			}
			want := tlsrpt.MessageReport{
				Domain: "example.com", Submitter: "sender.test",
				Subject:   "Report Domain: example.com Submitter: sender.test Report-ID: <20261207.example.com@sender.test>",
				MessageID: "20261207.example.com@sender.test",
				MediaType: tlsrpt.MediaTypeGzip, Filename: b.Filename,
			}
			got := *mr
			got.Report, got.Diagnostics = nil, nil
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("mail (-want +got):\n%s", diff)
			}
			if !bytes.Contains(msg, []byte("\r\nTLS-Required: No\r\n")) || !bytes.Contains(msg, []byte("report-type=tlsrpt")) {
				t.Errorf("TLS-Required or report-type missing:\n%s", msg)
			}

			verifs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookup})
			if err != nil || len(verifs) != 1 || verifs[0].Err != nil || verifs[0].Domain != "sender.test" {
				t.Fatalf("DKIM verification: %v %+v", err, verifs)
			}
			for _, h := range []string{"tls-report-domain", "tls-report-submitter", "tls-required", "subject"} {
				if !containsFold(verifs[0].HeaderKeys, h) {
					t.Errorf("signature does not cover %s: %v", h, verifs[0].HeaderKeys)
				}
			}
			// A report changed in transit fails verification.
			tampered := bytes.Replace(msg, []byte("TLS-Report-Domain: example.com"), []byte("TLS-Report-Domain: example.org"), 1)
			verifs, err = dkim.VerifyWithOptions(bytes.NewReader(tampered), &dkim.VerifyOptions{LookupTXT: lookup})
			if err != nil || len(verifs) != 1 || verifs[0].Err == nil {
				t.Errorf("tampered mail verified: %v %+v", err, verifs)
			}
		})
	}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// mailReport builds a report with a failure detail.
func mailReport(t *testing.T) *Built {
	t.Helper()
	a := NewAggregator()
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	a.Record(Outcome{Time: day.Add(time.Hour), Policy: stsPolicy, MXHost: "mx1.example.com", ReceivingIP: netip.MustParseAddr("192.0.2.10"), SendingIP: netip.MustParseAddr("198.51.100.1")})
	a.Record(Outcome{Time: day.Add(2 * time.Hour), Policy: stsPolicy, MXHost: "mx2.example.com", ReceivingIP: netip.MustParseAddr("192.0.2.11"), SendingIP: netip.MustParseAddr("198.51.100.1"), Result: tlsrpt.ResultCertificateHostMismatch})
	b, err := Build(testSubmitter, day, "example.com", a.Results(day, "example.com"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestComposeMailNeedsAddresses(t *testing.T) {
	for _, o := range []MailOptions{
		{From: "a@sender.test"},
		{To: []string{"b@example.com"}},
		{From: "a@sender.test\r\nBcc: x@evil.example", To: []string{"b@example.com"}},
		{From: "a@sender.test", To: []string{"not an address"}},
	} {
		if _, err := ComposeMail(testSubmitter, mailReport(t), o); err == nil {
			t.Errorf("a mail with From %q, To %q was composed", o.From, o.To)
		}
	}
}
