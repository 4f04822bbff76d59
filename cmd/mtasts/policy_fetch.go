package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/sts"
)

func newPolicyFetchCmd(e *env) *cobra.Command {
	var nf netFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "fetch DOMAIN",
		Short: "Show a domain's policy exactly as a sending MTA sees it",
		Long: `Look up the _mta-sts TXT record of DOMAIN (RFC 8461 §3.1), fetch its policy
from https://mta-sts.DOMAIN/.well-known/mta-sts.txt with the rules senders
apply (RFC 8461 §3.3: valid certificate for the policy host, status 200 only,
no redirects, text/plain, at most 64 KiB), parse it (§3.2), and show every
rule that fails with its RFC section.

The policy is fetched even when the record is missing or invalid, to help
diagnosis; the verdict still says what a sender would do: enforce, testing,
none, no-policy (no usable record or policy) or tempfail (DNS failed
temporarily: senders try again later).

Exit status: 0 a valid policy, 1 valid with warnings, 2 no usable policy,
3 the command could not run.`,
		Example: `  mtasts policy fetch example.com
  mtasts policy fetch --json example.com
  mtasts policy fetch --resolver 127.0.0.1:5353 --ca-file test-ca.pem example.test`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPolicyFetch(cmd.Context(), e, args[0], &nf, asJSON)
		},
	}
	nf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func runPolicyFetch(ctx context.Context, e *env, domainArg string, nf *netFlags, asJSON bool) error {
	domain, err := sts.NormalizeDomain(domainArg)
	if err != nil {
		return usageError(fmt.Errorf("domain %q: %w", domainArg, err))
	}
	resolver, err := nf.liveDNSClient(ctx)
	if err != nil {
		return err
	}
	opts, err := nf.fetchOptions(e)
	if err != nil {
		return usageError(err)
	}
	res := check.FetchPolicy(ctx, resolver, domain, opts, nf.timeout)
	if err := output(e, asJSON, res); err != nil {
		return err
	}
	return exitWith(statusCode(res.Status()))
}
