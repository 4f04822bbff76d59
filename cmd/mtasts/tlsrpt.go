package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/internal/buildinfo"
	"github.com/mtasts/mtasts/tlsrptsend"
)

// tlsrptFlags are the flags every tlsrpt command shares: the store, and
// who we are as a report submitter and how our reports leave.
type tlsrptFlags struct {
	store reportsFlags
	net   netFlags
	cfg   tlsrptsend.Config
}

func newTlsrptCmd(e *env) *cobra.Command {
	f := &tlsrptFlags{cfg: tlsrptsend.DefaultConfig()}
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
	c := &f.cfg
	pf.StringVar(&c.OrganizationName, "org", "", "organization-name of our reports (RFC 8460 §4.4)")
	pf.StringVar(&c.ContactInfo, "contact", "", "contact-info of our reports: a mail address or URI (RFC 8460 §4.4)")
	pf.StringVar(&c.Submitter, "submitter", "", "our domain: in report file names, report ids and TLS-Report-Submitter (RFC 8460 §5.1, §5.3)")
	pf.StringVar(&c.From, "from", "", "From of report mail (default: noreply-smtp-tls-reporting@ the submitter domain)")
	pf.StringVar(&c.DKIMKey, "dkim-key", "", "PEM file of the private key (Ed25519 or RSA, PKCS #8 or PKCS #1) that signs report mail")
	pf.StringVar(&c.DKIMSelector, "dkim-selector", "", "DKIM selector of --dkim-key")
	pf.StringVar(&c.DKIMDomain, "dkim-domain", "", "DKIM signing domain (default: the submitter domain)")
	pf.StringVar(&c.Relay, "relay", "", "send report mail through this relay, HOST:PORT, with STARTTLS (default: directly to the rua domain's MX hosts)")
	pf.StringVar(&c.RelayUser, "relay-user", "", "user name for AUTH PLAIN at --relay")
	pf.StringVar(&c.RelayPasswordFile, "relay-password-file", "", "file holding the password of --relay-user")
	pf.BoolVar(&c.RelayInsecure, "relay-insecure", false, "submit to --relay without STARTTLS (a relay on this host only)")
	pf.StringVar(&c.HELO, "helo", "", "host name sent with EHLO when mailing reports directly (default: this host's name)")
	cmd.AddCommand(
		newTlsrptCollectCmd(e, f),
		newTlsrptPendingCmd(e, f),
		newTlsrptSendCmd(e, f),
		newTlsrptSuppressCmd(e, f),
	)
	return cmd
}

// checkSubmitter reports a missing flag that names the submitter as a
// usage error.
func (f *tlsrptFlags) checkSubmitter() error {
	c := &f.cfg
	for flag, v := range map[string]string{"--org": c.OrganizationName, "--contact": c.ContactInfo, "--submitter": c.Submitter} {
		if strings.TrimSpace(v) == "" {
			return usageError(fmt.Errorf("%s is required to send reports", flag))
		}
	}
	return nil
}

// sender returns the Sender the flags describe; the caller sets its
// store.
func (f *tlsrptFlags) sender(e *env) (*tlsrptsend.Sender, error) {
	dns, err := f.net.dnsClient()
	if err != nil {
		return nil, usageError(err)
	}
	roots, err := f.net.rootCAs(e)
	if err != nil {
		return nil, usageError(err)
	}
	n := tlsrptsend.Network{DNS: dns, RootCAs: roots, Dial: e.dial, Timeout: f.net.timeout, Now: e.now, UserAgent: "mtasts/" + buildinfo.Version()}
	s, err := f.cfg.Sender(n, nil, nil)
	if err != nil {
		return nil, usageError(err)
	}
	return s, nil
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
