package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/enforce"
	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/resolver"
)

// queryFlags are the flags of mtasts query.
type queryFlags struct {
	net           netFlags
	cache         string
	config        string
	asJSON        bool
	strictTesting bool
	dane          bool
}

func newQueryCmd(e *env) *cobra.Command {
	var f queryFlags
	cmd := &cobra.Command{
		Use:   "query DOMAIN",
		Short: "Show what mtasts daemon answers Postfix for a domain, and why",
		Long: `Decide for one next-hop domain what a sending MTA must do under MTA-STS
(RFC 8461) — enforce, testing, none, no-policy, tempfail or dane — and print
the decision, the policy's mx patterns in policy order, where the decision
came from (cache, fetch, stale cache after a failure, negative cache, DNS)
and why, with the reply mtasts daemon gives Postfix.

DOMAIN may be written as Postfix looks it up: "example.com",
"example.com:2525", or "[smarthost.example]:587" (RFC 8461 §3.4: a smart
host's domain is the policy domain).

By default nothing is cached between runs; --cache URL uses (and fills) a
cache such as the daemon's. --config reads the daemon's configuration file
for its zones and options, so the answer is the daemon's.

Exit status: 0 a policy applies (enforce, testing, none, dane), 2 no usable
policy or a temporary failure (no-policy, tempfail), 3 the command could
not run.`,
		Example: `  mtasts query example.com
  mtasts query --json example.com
  mtasts query --cache sqlite:///var/lib/mtasts/cache.db --config /etc/mtasts/mtasts.toml example.com
  mtasts query --resolver 127.0.0.1:5353 --ca-file test-ca.pem '[relay.example.net]:587'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuery(cmd.Context(), e, cmd, &f, args[0])
		},
	}
	f.net.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.cache, "cache", "", "policy cache to use and fill: memory:, sqlite:///path, redis://…, postgres://… (default: none)")
	fl.StringVar(&f.config, "config", "", "daemon configuration file whose [daemon] zones and reply options apply")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	fl.BoolVar(&f.strictTesting, "strict-testing", false, "enforce policies in mode testing too")
	fl.BoolVar(&f.dane, "dane", false, "check for DNSSEC-signed TLSA records first (RFC 8461 §2; default: when the resolver validates DNSSEC)")
	return cmd
}

func runQuery(ctx context.Context, e *env, cmd *cobra.Command, f *queryFlags, key string) error {
	cfg, err := enforce.Load(f.config, e.getenv)
	if err != nil {
		return usageError(err)
	}
	set := cmd.Flags().Changed
	f.net.override(cfg, set)
	if set("strict-testing") {
		cfg.Zone.StrictTesting = &f.strictTesting
	}
	if set("dane") {
		cfg.DANE = &f.dane
	}
	// Nothing cached between runs unless asked: the file's cache is the
	// daemon's.
	cfg.Cache = f.cache
	if _, err := liveResolver(ctx, cfg.Resolver); err != nil {
		return err
	}
	res, err := enforce.Query(ctx, cfg, enforceOptions(e), key)
	if err != nil {
		return usageError(err)
	}
	if f.asJSON {
		if err := writeQueryJSON(e, res); err != nil {
			return err
		}
	} else if err := printQuery(e, res); err != nil {
		return err
	}
	switch res.Decision.Kind {
	case resolver.NoPolicy, resolver.Tempfail:
		return exitWith(exitErrors)
	}
	if res.Answer == enforce.AnswerUnusable {
		return exitWith(exitErrors)
	}
	return nil
}

// queryJSON is the output of mtasts query --json: the decision's JSON
// view with one more member, "postfix": the reply mtasts daemon gives.
type queryJSON struct {
	resolver.DecisionJSON
	Postfix string `json:"postfix"`
}

// writeQueryJSON prints res as queryJSON. The reply is written without the
// space that the protocol puts after NOTFOUND.
func writeQueryJSON(e *env, res enforce.Result) error {
	return textout.WriteJSON(e.stdout, queryJSON{res.Decision.JSON(), strings.TrimRight(res.Reply.String(), " ")})
}

// decisionText explains each kind of decision in a few words.
var decisionText = map[resolver.Kind]string{
	resolver.Enforce:  "deliver only over TLS validated for an MX host matching the policy",
	resolver.Testing:  "deliver anyway; report TLS failures",
	resolver.None:     "the domain retired its policy; deliver as without one",
	resolver.NoPolicy: "no usable policy; opportunistic TLS",
	resolver.Tempfail: "cannot be known now; defer the mail and try again",
	resolver.DANE:     "DANE governs the domain's MX hosts; MTA-STS does not override it",
}

func printQuery(e *env, res enforce.Result) error {
	d := res.Decision
	w := &textout.Writer{W: e.stdout}
	name := d.Domain
	if name == "" {
		name = res.Key
	}
	w.Printf("%s: %s — %s\n\n", name, d.Kind, decisionText[d.Kind])
	if d.Policy != nil {
		w.Printf("%-9s mode %s, max_age %d, id %s\n", "policy", d.Policy.Mode, d.Policy.MaxAge, textout.OrDash(d.ID))
		w.Printf("%-9s fetched %s, expires %s\n", "", d.Fetched.UTC().Format(time.RFC3339), d.Expires.UTC().Format(time.RFC3339))
		w.Printf("%-9s %s\n", "mx", textout.OrDash(strings.Join(d.MX, ", ")))
	}
	w.Printf("%-9s %s\n", "source", d.Source)
	w.Printf("%-9s %s\n", "reason", d.Reason)
	if res.Note != "" {
		w.Printf("%-9s %s\n", "note", res.Note)
	}
	w.Printf("%-9s %s\n", "postfix", res.Reply.String())
	return w.Err
}
