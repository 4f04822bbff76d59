package main

import (
	"github.com/spf13/cobra"
)

func newPolicyCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Write, validate and fetch MTA-STS policies",
		Long: `Commands for the MTA-STS policy file (RFC 8461 §3.2) and the DNS records
that announce it (RFC 8461 §3.1, RFC 8460 §3).`,
	}
	cmd.AddCommand(
		newPolicyInitCmd(e),
		newPolicyLintCmd(e),
		newPolicyFetchCmd(e),
		newPolicyRecordsCmd(e),
	)
	return cmd
}
