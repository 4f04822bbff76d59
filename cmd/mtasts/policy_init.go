package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
)

// recordTTL is the TTL printed in the zone-file lines. An hour lets a new
// id reach senders quickly after the policy changes.
const recordTTL = 3600

type policyInitFlags struct {
	mx     []string
	mode   string
	maxAge int64
	rua    []string
	output string
	force  bool
}

func newPolicyInitCmd(e *env) *cobra.Command {
	var f policyInitFlags
	cmd := &cobra.Command{
		Use:   "init DOMAIN --mx HOST...",
		Short: "Write a policy file and print the DNS records to publish",
		Long: `Write an MTA-STS policy file for DOMAIN and print, as zone-file lines, the
DNS records that announce it: the _mta-sts TXT record with a fresh id
(RFC 8461 §3.1) and the _smtp._tls TXT record for TLS reports (RFC 8460 §3).

Each --mx is an MX host name or a "*." pattern matching exactly one extra
left-most label (RFC 8461 §4.1): "*.mail.example.com" covers
"mx1.mail.example.com" but not "mail.example.com". List every MX host the
domain uses: under enforce, senders refuse MX hosts that match no pattern.

Start in testing mode, read the TLS reports for a few weeks, then switch to
enforce. The policy is written with CRLF line endings, to FILE or to
mta-sts.txt; serve it at https://mta-sts.DOMAIN/.well-known/mta-sts.txt.
Whenever the policy changes, publish a new id.`,
		Example: `  mtasts policy init example.com --mx mx1.example.com --mx mx2.example.com
  mtasts policy init example.com --mx '*.mail.protection.outlook.com' --mode enforce \
      --max-age 1209600 --rua mailto:tls-reports@example.com --output /srv/mta-sts/mta-sts.txt
  mtasts policy init example.com --mx mx.example.com --output -   # policy to stdout, records to stderr`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPolicyInit(e, args[0], &f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.mx, "mx", nil, "MX host name or *.domain pattern (repeat for each; required unless --mode none)")
	fl.StringVar(&f.mode, "mode", string(sts.ModeTesting), "policy mode: testing, enforce or none")
	fl.Int64Var(&f.maxAge, "max-age", 604800, "max_age in seconds: how long senders cache the policy (at most 31557600)")
	fl.StringArrayVar(&f.rua, "rua", nil, "TLS report destination, mailto: or https: URI (repeat for several; default mailto:tlsrpt@DOMAIN)")
	fl.StringVarP(&f.output, "output", "o", "mta-sts.txt", `file to write the policy to; "-" for standard output`)
	fl.BoolVar(&f.force, "force", false, "overwrite the output file if it exists")
	return cmd
}

func runPolicyInit(e *env, domainArg string, f *policyInitFlags) error {
	domain, err := sts.NormalizeDomain(domainArg)
	if err != nil {
		return usageError(fmt.Errorf("domain %q: %w", domainArg, err))
	}
	p := &sts.Policy{Version: "STSv1", Mode: sts.Mode(f.mode), MaxAge: f.maxAge, MX: f.mx}
	// The policy is checked by the parser senders use: what we write must
	// parse, and its warnings are shown.
	text := p.String()
	_, warnings, err := sts.ParsePolicyLint([]byte(text))
	if err != nil {
		return usageError(fmt.Errorf("the policy would be invalid: %w", err))
	}
	rua := f.rua
	if len(rua) == 0 {
		rua = []string{"mailto:tlsrpt@" + domain}
	}
	rpt, err := tlsrpt.ParseRecord("v=TLSRPTv1; rua=" + strings.Join(rua, ","))
	if err != nil {
		return usageError(fmt.Errorf("--rua: %w", err))
	}

	records := e.stdout
	if f.output == "-" {
		if _, err := io.WriteString(e.stdout, text); err != nil {
			return err
		}
		records = e.stderr
	} else if err := writeNewFile(f.output, []byte(text), f.force); err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}

	stsRecord := &sts.Record{Version: "STSv1", ID: policyhost.NewID(e.now(), "")}
	w := &textout.Writer{W: records}
	if f.output != "-" {
		w.Printf("Wrote %s (mode %s, max_age %d, %d mx).\n\n", f.output, p.Mode, p.MaxAge, len(p.MX))
	}
	for _, warn := range warnings {
		w.Printf("warning: %s\n", warn)
	}
	if len(warnings) > 0 {
		w.Printf("\n")
	}
	w.Printf("; DNS records to publish in the %s zone:\n", domain)
	w.Printf("_mta-sts.%s.\t%d\tIN\tTXT\t%s\n", domain, recordTTL, policyhost.QuoteTXT(stsRecord.String()))
	w.Printf("_smtp._tls.%s.\t%d\tIN\tTXT\t%s\n", domain, recordTTL, policyhost.QuoteTXT(rpt.String()))
	w.Printf(";\n; Serve the policy file at https://mta-sts.%s/.well-known/mta-sts.txt\n", domain)
	w.Printf("; with Content-Type text/plain, status 200 and no redirect; mta-sts.%s needs\n", domain)
	w.Printf("; an A/AAAA (or CNAME) record and a certificate valid for that name.\n")
	w.Printf("; Publish the TXT record only once the file is served; change its id whenever the policy changes.\n")
	return w.Err
}

// writeNewFile writes data to name, refusing to replace an existing file
// unless force is set.
func writeNewFile(name string, data []byte, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	fh, err := os.OpenFile(name, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists; use --force to overwrite it", name)
	}
	if err != nil {
		return err
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return fh.Close()
}

// usageError marks err as a problem with the command's arguments.
func usageError(err error) error {
	return &exitError{code: exitCannotRun, err: err}
}
