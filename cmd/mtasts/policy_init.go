package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/sts"
)

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

func runPolicyInit(e *env, domain string, f *policyInitFlags) error {
	in, err := policyhost.NewInitial(domain, sts.Mode(f.mode), f.maxAge, f.mx, f.rua, e.now())
	if err != nil {
		return usageError(err)
	}
	records := e.stdout
	if f.output == "-" {
		if _, err := io.WriteString(e.stdout, in.Text); err != nil {
			return err
		}
		records = e.stderr
	} else if err := writeNewFile(f.output, []byte(in.Text), f.force); err != nil {
		return &exitError{code: exitCannotRun, err: err}
	} else if _, err := fmt.Fprintf(records, "Wrote %s (mode %s, max_age %d, %d mx).\n\n", f.output, in.Policy.Mode, in.Policy.MaxAge, len(in.Policy.MX)); err != nil {
		return err
	}
	return in.WriteRecords(records)
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
