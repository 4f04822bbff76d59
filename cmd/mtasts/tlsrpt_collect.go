package main

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/tlsrptsend"
)

func newTlsrptCollectCmd(e *env, f *tlsrptFlags) *cobra.Command {
	var logPath, sendingIP string
	var follow bool
	var flush time.Duration
	cmd := &cobra.Command{
		Use:   "collect --postfix-log FILE|-",
		Short: "Collect TLS outcomes from Postfix's log into the report store",
		Long: `Read the log of Postfix's smtp(8) (any Postfix version, smtp_tls_loglevel 1 or
more, syslog or journald's short-iso format) and add one outcome per SMTP
session with an MX host to the report store: success, or the RFC 8460 §4.3
result type of its TLS failure, with the MX host's name and IP.

The report states the policy applied to each domain. Without the daemon to
ask, collect fetches each recipient domain's MTA-STS policy itself
(RFC 8461 §3, through --resolver and --ca-file), once per run: a domain
with a valid policy is reported under it (type sts), one without under
no-policy-found. Run collect close to the deliveries, so that the policy
fetched is the one Postfix applied.

--postfix-log - reads standard input to its end (journalctl -o short-iso
-f never ends: stop it with a signal, which flushes what was read).
--follow follows a log file across rotation and truncation until stopped,
its position kept in the store with the outcomes: run again, it goes on
where it stopped, counting nothing twice (as the daemon's postfix_log).
Outcomes are summed in memory and written every --flush-interval and at
the end.

Exit status: 0 done, 3 could not run.`,
		Example: `  mtasts tlsrpt collect --postfix-log /var/log/mail.log --sending-ip 192.0.2.1
  mtasts tlsrpt collect --postfix-log /var/log/mail.log --follow --sending-ip 192.0.2.1
  journalctl -u postfix -o short-iso -f | mtasts tlsrpt collect --postfix-log - --sending-ip 192.0.2.1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if logPath == "" {
				return usageError(fmt.Errorf("--postfix-log FILE or - is required"))
			}
			var ip netip.Addr
			if sendingIP != "" {
				var err error
				if ip, err = netip.ParseAddr(sendingIP); err != nil {
					return usageError(fmt.Errorf("--sending-ip: %w", err))
				}
			}
			return runTlsrptCollect(cmd.Context(), e, f, logPath, follow, ip, flush)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&logPath, "postfix-log", "", "Postfix log file to read, or - for standard input")
	fl.BoolVar(&follow, "follow", false, "follow the log file across rotation until stopped, rather than read it to its end")
	fl.StringVar(&sendingIP, "sending-ip", "", "this MTA's IP address, sending-mta-ip of the reports (RFC 8460 §4.4; required for failures to be reported)")
	fl.DurationVar(&flush, "flush-interval", time.Minute, "how often outcomes read are written to the store")
	f.net.register(cmd)
	return cmd
}

func runTlsrptCollect(ctx context.Context, e *env, f *tlsrptFlags, logPath string, follow bool, ip netip.Addr, flush time.Duration) error {
	dns, err := f.net.liveDNSClient(ctx)
	if err != nil {
		return err
	}
	opts, err := f.net.fetchOptions(e)
	if err != nil {
		return usageError(err)
	}
	store, err := f.store.open(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	o := tlsrptsend.CollectOptions{Path: logPath, Follow: follow, Store: store, Flush: flush,
		Policies: tlsrptsend.NewFetchedPolicies(ctx, dns, opts), SendingIP: ip, Now: e.now}
	if logPath == "-" {
		o.Reader = e.stdinUntil(ctx)
	}
	st, err := tlsrptsend.CollectPostfixLog(ctx, o)
	if err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	return output(e, f.store.asJSON, st)
}
