package main

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/deliver"
	"github.com/mtasts/mtasts/internal/buildinfo"
	"github.com/mtasts/mtasts/tlsrptsend"
)

// tlsrptFlags are the flags every tlsrpt command shares: the store, and
// who we are as a report submitter and how our reports leave.
type tlsrptFlags struct {
	store reportsFlags
	net   netFlags

	org, contact, submitter, from string
	dkimKey, dkimSelector         string
	dkimDomain                    string
	relay, relayUser              string
	relayPasswordFile             string
	relayInsecure                 bool
	helo                          string
}

func newTlsrptCmd(e *env) *cobra.Command {
	f := &tlsrptFlags{}
	cmd := &cobra.Command{
		Use:   "tlsrpt",
		Short: "Send the daily TLS reports (RFC 8460) of what our MTAs saw",
		Long: `Commands for the sending side of SMTP TLS Reporting (RFC 8460): collect the
TLS outcomes of our MTAs' deliveries, and send each recipient domain that
asks for them in its _smtp._tls record one report per UTC day.

Outcomes are kept in the report store ("mtasts reports" describes --db and
--data-dir), summed per UTC day, policy domain and policy: several MTAs,
or several collectors, feed one store. "send" builds each day's reports
once and delivers them to every rua: https: by POST, mailto: by mail sent
directly to the rua domain's MX hosts with opportunistic TLS (a report may
be about that very domain's broken TLS), or through --relay. Report mail
carries TLS-Required: No (RFC 8689) and is DKIM-signed with --dkim-key;
publish the key with s=email:tlsrpt. Deliveries are retried for 24 hours
and their state is stored, so that neither a restart nor a second sender
over the same store sends a report twice.`,
		Example: `  journalctl -u postfix -o short-iso -f | mtasts tlsrpt collect --postfix-log - --sending-ip 192.0.2.1
  mtasts tlsrpt pending
  mtasts tlsrpt send --org "Example Mail" --contact postmaster@example.net --submitter example.net \
      --dkim-key /etc/mtasts/dkim.pem --dkim-selector tlsrpt
  mtasts tlsrpt send --date 2026-12-06 --now --dry-run --org X --contact x@example.net --submitter example.net`,
	}
	f.store.register(cmd)
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.org, "org", "", "organization-name of our reports (RFC 8460 §4.4)")
	pf.StringVar(&f.contact, "contact", "", "contact-info of our reports: a mail address or URI (RFC 8460 §4.4)")
	pf.StringVar(&f.submitter, "submitter", "", "our domain: in report file names, report ids and TLS-Report-Submitter (RFC 8460 §5.1, §5.3)")
	pf.StringVar(&f.from, "from", "", "From of report mail (default: noreply-smtp-tls-reporting@ the submitter domain)")
	pf.StringVar(&f.dkimKey, "dkim-key", "", "PEM file of the private key (Ed25519 or RSA, PKCS #8 or PKCS #1) that signs report mail")
	pf.StringVar(&f.dkimSelector, "dkim-selector", "", "DKIM selector of --dkim-key")
	pf.StringVar(&f.dkimDomain, "dkim-domain", "", "DKIM signing domain (default: the submitter domain)")
	pf.StringVar(&f.relay, "relay", "", "send report mail through this relay, HOST:PORT, with STARTTLS (default: directly to the rua domain's MX hosts)")
	pf.StringVar(&f.relayUser, "relay-user", "", "user name for AUTH PLAIN at --relay")
	pf.StringVar(&f.relayPasswordFile, "relay-password-file", "", "file holding the password of --relay-user")
	pf.BoolVar(&f.relayInsecure, "relay-insecure", false, "submit to --relay without STARTTLS (a relay on this host only)")
	pf.StringVar(&f.helo, "helo", "", "host name sent with EHLO when mailing reports directly (default: this host's name)")
	cmd.AddCommand(
		newTlsrptCollectCmd(e, f),
		newTlsrptPendingCmd(e, f),
		newTlsrptSendCmd(e, f),
		newTlsrptSuppressCmd(e, f),
	)
	return cmd
}

// submitterOf returns the submitter the flags name; missing ones are
// usage errors.
func (f *tlsrptFlags) submitterOf() (tlsrptsend.Submitter, error) {
	s := tlsrptsend.Submitter{OrganizationName: f.org, ContactInfo: f.contact, Domain: f.submitter}
	for flag, v := range map[string]string{"--org": f.org, "--contact": f.contact, "--submitter": f.submitter} {
		if strings.TrimSpace(v) == "" {
			return s, usageError(fmt.Errorf("%s is required to send reports", flag))
		}
	}
	return s, nil
}

// sender returns the Sender the flags describe, over the store opened by
// the caller.
func (f *tlsrptFlags) sender(e *env, sub tlsrptsend.Submitter) (*tlsrptsend.Sender, error) {
	dns, err := f.net.dnsClient()
	if err != nil {
		return nil, usageError(err)
	}
	roots, err := f.net.rootCAs(e)
	if err != nil {
		return nil, usageError(err)
	}
	client := &http.Client{
		Timeout:       f.net.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, DialContext: e.dial, Proxy: http.ProxyFromEnvironment},
	}
	s := &tlsrptsend.Sender{
		Submitter: sub,
		DNS:       dns,
		HTTPS:     &tlsrptsend.HTTPSDeliverer{Client: client, UserAgent: "mtasts/" + buildinfo.Version()},
		MailFrom:  f.from,
		Now:       e.now,
	}
	if s.DKIM, err = f.dkimOptions(sub.Domain); err != nil {
		return nil, usageError(err)
	}
	if f.relay != "" {
		r := &tlsrptsend.Relay{Addr: f.relay, Username: f.relayUser, Insecure: f.relayInsecure, Dial: e.dial, Timeout: f.net.timeout}
		if f.relayPasswordFile != "" {
			pw, err := os.ReadFile(f.relayPasswordFile)
			if err != nil {
				return nil, usageError(fmt.Errorf("--relay-password-file: %w", err))
			}
			r.Password = strings.TrimRight(string(pw), "\r\n")
		}
		s.Mail = r
	} else {
		helo := f.helo
		if helo == "" {
			helo, _ = os.Hostname()
		}
		s.Mail = tlsrptsend.DirectMail{Sender: &deliver.Sender{DNS: dns, Dial: e.dial, Opportunistic: true, HeloName: helo, Now: e.now}}
	}
	return s, nil
}

// dkimOptions reads --dkim-key; nil without it.
func (f *tlsrptFlags) dkimOptions(submitter string) (*dkim.SignOptions, error) {
	if f.dkimKey == "" {
		return nil, nil
	}
	if f.dkimSelector == "" {
		return nil, fmt.Errorf("--dkim-key needs --dkim-selector")
	}
	data, err := os.ReadFile(f.dkimKey)
	if err != nil {
		return nil, fmt.Errorf("--dkim-key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("--dkim-key %s: no PEM block", f.dkimKey)
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("--dkim-key %s: neither PKCS #8 nor PKCS #1: %w", f.dkimKey, err)
		}
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("--dkim-key %s: a %T cannot sign", f.dkimKey, key)
	}
	domain := f.dkimDomain
	if domain == "" {
		domain = submitter
	}
	return &dkim.SignOptions{Domain: domain, Selector: f.dkimSelector, Signer: signer}, nil
}

// parseDay reads --date: a UTC day, YYYY-MM-DD; "" is yesterday.
func parseDay(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return tlsrptsend.Day(now).Add(-24 * time.Hour), nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, usageError(fmt.Errorf("--date %q: want YYYY-MM-DD", s))
	}
	return d, nil
}
