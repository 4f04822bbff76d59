package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/serve"
	"github.com/mtasts/mtasts/sts"
)

func newPolicyRecordsCmd(e *env) *cobra.Command {
	var nf netFlags
	var config string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "records [DOMAIN]",
		Short: "Print the DNS records the served domains need, checked against live DNS",
		Long: `Print, as zone-file lines, the DNS records that each domain served by
"mtasts serve" needs, and say for each whether live DNS has it:

  mta-sts.DOMAIN       A/AAAA (or CNAME) pointing at this server
                       ([serve.records] addresses or cname)
  _mta-sts.DOMAIN      TXT "v=STSv1; id=ID;" with the current policy id
                       (RFC 8461 §3.1)
  _smtp._tls.DOMAIN    TXT "v=TLSRPTv1; rua=..." for TLS reports (RFC 8460 §3)

Each line ends with a comment: published, missing, stale (DNS holds an old
id, other addresses or other report URIs) or unknown. The policy id is the
one "mtasts serve" serves, from its data directory; for a domain it has not
served yet, the id is assigned now, as serve would. While a serve holds the
data directory, nothing is written there: a policy changed in the file but
not yet loaded by serve gets a provisional id, with a warning to reload
serve (SIGHUP) and run this again.

Exit status: 0 everything published, 1 only the TLS-RPT record or a lookup
needs attention, 2 a record senders need for the policy is missing or
stale, 3 the command could not run.`,
		Example: `  mtasts policy records --config /etc/mtasts/mtasts.toml
  mtasts policy records --config mtasts.toml example.com
  mtasts policy records --config mtasts.toml --resolver 192.0.2.53 --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			only := ""
			if len(args) == 1 {
				only = args[0]
			}
			return runPolicyRecords(cmd.Context(), e, config, only, &nf, asJSON)
		},
	}
	nf.register(cmd)
	cmd.Flags().StringVarP(&config, "config", "c", serve.DefaultPath, "configuration file of mtasts serve")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func runPolicyRecords(ctx context.Context, e *env, config, only string, nf *netFlags, asJSON bool) error {
	cfg, err := serve.Load(config)
	if err != nil {
		return usageError(err)
	}
	domains := cfg.Domains
	if only != "" {
		d, err := sts.NormalizeDomain(only)
		if err != nil {
			return usageError(fmt.Errorf("domain %q: %w", only, err))
		}
		domains = nil
		for _, dc := range cfg.Domains {
			if dc.Domain == d {
				domains = append(domains, dc)
			}
		}
		if len(domains) == 0 {
			return usageError(fmt.Errorf("%s is not a domain of %s", d, config))
		}
	}
	resolver, err := nf.liveDNSClient(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, nf.timeout)
	defer cancel()
	results, provisional, err := policyhost.ServedRecords(ctx, &cfg.Config, domains, resolver, e.now)
	if err != nil {
		return usageError(err)
	}
	for _, p := range provisional {
		fmt.Fprintf(e.stderr, "warning: %s: the running mtasts serve has not loaded this policy yet; id %s is provisional: reload serve (SIGHUP) and run this again\n", p.Domain, p.ID)
	}
	if asJSON {
		if err := textout.WriteJSON(e.stdout, results); err != nil {
			return err
		}
	} else if err := policyhost.WriteZone(e.stdout, cfg.Records.TTL, results); err != nil {
		return err
	}
	return exitWith(recordsCode(results))
}

// recordsCode is the exit status for the checked records.
func recordsCode(results []policyhost.DomainRecords) int {
	code := exitOK
	for _, r := range results {
		for _, rec := range r.Records {
			switch {
			case rec.Status == policyhost.StatusPublished:
			case rec.Status != policyhost.StatusUnknown && !strings.HasPrefix(rec.Name, "_smtp._tls."):
				return exitErrors
			default:
				code = exitWarnings
			}
		}
	}
	return code
}
