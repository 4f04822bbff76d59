package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/sts"
)

// checkFlags are the flags of mtasts check.
type checkFlags struct {
	net         netFlags
	file        string
	asJSON      bool
	jsonl       bool
	color       string
	noColor     bool
	brief       bool
	noMX        bool
	ipv4, ipv6  bool
	publicOnly  bool
	concurrency int
	perIP       int
	ordered     bool
}

func newCheckCmd(e *env) *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check DOMAIN... | -f FILE|-",
		Short: "Audit a domain's MTA-STS and TLS-RPT deployment and say how to fix it",
		Long: `Check everything a sending MTA depends on when it delivers to DOMAIN with
MTA-STS (RFC 8461), and the TLS-RPT record (RFC 8460), and say for each
problem what was observed, which rule it breaks and how to fix it.

What is checked:
  MTA-STS record  _mta-sts.DOMAIN TXT: missing, several, syntax (v first, id,
                  extensions), unrelated TXT records, a record put at DOMAIN
                  itself; SERVFAIL and timeouts are reported as such, never as
                  a missing record (RFC 8461 §3.1)
  Policy host     https://mta-sts.DOMAIN: addresses, TCP, TLS, certificate
                  (trusted, valid for the name, expired, expiring within 14 or
                  30 days), HTTP status, redirects (refused even to a valid
                  target), Content-Type, size, fetch time (§3.3)
  Policy          every rule of §3.2 with its line; mode none or testing (with
                  the MX hosts that would fail under enforce); max_age
  MX records      null MX, hosts without address, every MX host covered by an
                  mx pattern (exact RFC 8461 §4.1 matching, no suffix match)
  MX hosts        each address on port 25: EHLO, STARTTLS, TLS 1.2 or newer,
                  certificate chain, name (RFC 6125), expiry; TLS version and
                  cipher suite
  DANE            TLSA records of each MX host, DNSSEC-authenticated or not
                  (AD bit of the resolver's answer), matched against the
                  certificate served (RFC 7672)
  TLS-RPT         _smtp._tls.DOMAIN: missing, several, syntax, invalid rua URIs
  Consistency     enforce mode while an MX host fails validation: senders
                  would not deliver to it

Every finding has a stable code (such as mx-not-covered); docs/findings.md
lists them all with their meaning and fix. The report starts with a verdict
line ("example.com: MTA-STS enforce — 2 errors, 1 warning"), then the facts
and findings grouped by area. Colours are used when standard output is a
terminal, unless --no-color is given or NO_COLOR is set.

Bulk mode: -f FILE (or -f - for standard input) reads one domain per line;
blank lines and text after "#" are ignored, and "rank,domain" lines (as in
top-site lists) are accepted. Domains are checked --concurrency at a time,
with at most --per-ip connections to any one address, so that a shared MX
is never hammered; results of MX hosts shared by several domains are
reused. Results stream out as they finish, or in input order with
--ordered; memory stays flat whatever the list size. A progress bar (count,
rate, ETA) is drawn on standard error when it is a terminal. At the end a
summary table gives the domains checked, the share with a record, the share
in each mode and the count and share of every finding code (on standard
error with --json/--jsonl, so that standard output stays pure JSON).
A DNS lookup that gets no answer in time is tried again with backoff, and
a domain whose check still met one is checked again; while timeouts rise,
fewer domains are checked at once (said on standard error). A timeout left
after that is the finding "resolver-timeout" (policy "resolver-timeout"):
the resolver did not keep up, which says nothing about the domain, unlike
an answer such as SERVFAIL ("tempfail").

Networks that block outgoing port 25 make every MX probe fail: use --no-mx.
Services that check domains submitted by strangers should use --public-only,
which refuses to connect to private, loopback and link-local addresses.

Exit status:
  0  no errors and no warnings (info findings do not count)
  1  warnings, no errors
  2  at least one error (in bulk mode: in any domain)
  3  the check could not run: bad arguments, unreadable file, CA file or
     list, no DNS resolver or a resolver that does not answer, or a list
     of which no line is a domain that could be checked`,
		Example: `  # Audit one domain, as a sender on the internet sees it.
  mtasts check example.com

  # Several domains, machine-readable; jq picks the errors.
  mtasts check --json example.com example.org | jq '.findings[] | select(.severity == "error")'

  # From a network that blocks port 25 (no MX probes).
  mtasts check --no-mx example.com

  # Your own resolver and a private CA, IPv4 only.
  mtasts check --resolver 127.0.0.1:5353 --ca-file ca.pem --ipv4 example.test

  # Scan a list of domains, 64 at a time, JSONL in input order.
  mtasts check -f domains.txt --concurrency 64 --ordered --jsonl > results.jsonl

  # As a public web service: never connect to internal addresses.
  mtasts check --public-only --timeout 20s "$DOMAIN"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd.Context(), e, args, &f)
		},
	}
	f.net.register(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "read domains from `FILE`, one per line (\"-\" for standard input)")
	fl.BoolVar(&f.asJSON, "json", false, "print one indented JSON object per domain")
	fl.BoolVar(&f.jsonl, "jsonl", false, "print one JSON object per domain per line (JSON Lines), for streams")
	fl.StringVar(&f.color, "color", "auto", "colour the report: auto (when standard output is a terminal), always or never")
	_ = cmd.RegisterFlagCompletionFunc("color", cobra.FixedCompletions([]string{"auto", "always", "never"}, cobra.ShellCompDirectiveNoFileComp))
	fl.BoolVar(&f.noColor, "no-color", false, "no colours (same as --color never; the NO_COLOR variable also turns colour off)")
	fl.BoolVar(&f.brief, "brief", false, "text report: only the verdict and the findings, not the facts observed")
	fl.BoolVar(&f.noMX, "no-mx", false, "do not probe MX hosts on port 25 (for networks that block it)")
	fl.BoolVar(&f.ipv4, "ipv4", false, "connect to IPv4 addresses only")
	fl.BoolVar(&f.ipv6, "ipv6", false, "connect to IPv6 addresses only")
	fl.BoolVar(&f.publicOnly, "public-only", false, "refuse to connect to private, loopback, link-local and other non-public addresses")
	fl.IntVar(&f.concurrency, "concurrency", check.DefaultConcurrency, "bulk mode: domains checked at once")
	fl.IntVar(&f.perIP, "per-ip", check.DefaultPerIPConnections, "at most this many connections at once to any one IP address")
	fl.BoolVar(&f.ordered, "ordered", false, "bulk mode: print results in input order instead of as they finish")
	return cmd
}

// validate checks the combination of flags and arguments.
func (f *checkFlags) validate(args []string) error {
	switch {
	case f.file == "" && len(args) == 0:
		return errors.New("give one or more domains, or -f FILE")
	case f.file != "" && len(args) > 0:
		return errors.New("give domains as arguments or with -f, not both")
	case f.asJSON && f.jsonl:
		return errors.New("--json and --jsonl exclude each other")
	case f.ipv4 && f.ipv6:
		return errors.New("--ipv4 and --ipv6 exclude each other")
	case f.concurrency < 1 || f.perIP < 1:
		return errors.New("--concurrency and --per-ip must be at least 1")
	case !slices.Contains([]string{"auto", "always", "never"}, f.color):
		return fmt.Errorf("--color %q: want auto, always or never", f.color)
	}
	return nil
}

func runCheck(ctx context.Context, e *env, args []string, f *checkFlags) error {
	if err := f.validate(args); err != nil {
		return usageError(err)
	}
	for _, a := range args {
		if _, err := sts.NormalizeDomain(a); err != nil {
			return usageError(fmt.Errorf("domain %q: %w", a, err))
		}
	}
	roots, err := f.net.rootCAs(e)
	if err != nil {
		return usageError(err)
	}
	checker, err := check.New(check.Options{
		Resolver:         f.net.resolver,
		RootCAs:          roots,
		Dial:             e.dial,
		Timeout:          f.net.timeout,
		Now:              e.now,
		NoMX:             f.noMX,
		IPv4Only:         f.ipv4,
		IPv6Only:         f.ipv6,
		PublicOnly:       f.publicOnly,
		PerIPConnections: f.perIP,
		UserAgent:        userAgent(),
	})
	if err != nil {
		return usageError(err)
	}
	if err := checker.CheckResolver(ctx); err != nil {
		return usageError(err)
	}

	domains := slices.Values(args)
	var in *domainList
	if f.file != "" {
		if in, err = openDomains(ctx, e, f.file); err != nil {
			return usageError(err)
		}
		defer in.close()
		domains = in.All()
	}
	p := check.NewPrinter(check.PrintOptions{Format: f.format(), Text: check.TextOptions{Color: f.useColor(e), Facts: !f.brief},
		Bulk: in != nil, Out: e.stdout, Err: e.stderr, Concurrency: f.concurrency})
	var progress *bulkProgress
	if in != nil && writerIsTerminal(e.stderr) {
		progress = newBulkProgress(e.stderr, f.file, writerIsTerminal(e.stdout), e.now)
	}
	err = checker.CheckAll(ctx, domains, check.BulkOptions{Concurrency: f.concurrency, Ordered: f.ordered || in == nil, OnConcurrency: p.Slowed}, func(it check.Item) error {
		progress.clear()
		defer progress.add()
		return p.Print(it)
	})
	progress.close()
	if err == nil && in != nil {
		err = in.Err()
	}
	if err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	if err := p.Close(); err != nil {
		return err
	}
	if in != nil && p.Checked == 0 {
		// A list of which nothing could be checked says nothing about
		// any domain: that is not a clean bill of health.
		what := "holds no domain"
		if p.NotChecked > 0 {
			what = fmt.Sprintf("holds no domain that could be checked (%d entries refused)", p.NotChecked)
		}
		return &exitError{code: exitCannotRun, err: fmt.Errorf("nothing checked: %s %s", in.Name(), what)}
	}
	return exitWith(statusCode(p.Status))
}

// format is the output format the flags choose.
func (f *checkFlags) format() string {
	switch {
	case f.asJSON:
		return check.FormatJSON
	case f.jsonl:
		return check.FormatJSONL
	}
	return check.FormatText
}

// useColor reports whether the text report is coloured.
func (f *checkFlags) useColor(e *env) bool {
	switch {
	case f.asJSON || f.jsonl || f.noColor || f.color == "never":
		return false
	case f.color == "always":
		return true
	}
	return e.getenv("NO_COLOR") == "" && writerIsTerminal(e.stdout)
}

// writerIsTerminal reports whether w is a terminal.
func writerIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
