package enforce

import (
	"io"
	"strings"
	"time"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/resolver"
)

// ResultJSON is the JSON view of a Result: the decision, the MX hosts
// the reply needed and those of them the policy covers, and the reply,
// written without the space that the protocol puts after NOTFOUND.
type ResultJSON struct {
	resolver.DecisionJSON
	MXHosts        []string `json:"mx_hosts,omitempty"`
	CoveredMXHosts []string `json:"covered_mx_hosts,omitempty"`
	Postfix        string   `json:"postfix"`
}

// JSON returns the JSON view of r.
func (r Result) JSON() ResultJSON {
	j := ResultJSON{DecisionJSON: r.Decision.JSON(), Postfix: strings.TrimRight(r.Reply.String(), " ")}
	if r.MX != nil {
		j.MXHosts, j.CoveredMXHosts = r.MX.Hosts, coveredHosts(r.Decision.MX, r.MX.Hosts)
	}
	return j
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

// WriteText writes r for people, as "mtasts query" shows it: the
// decision and what it means, the policy, any override, where the
// decision came from and why, and the reply Postfix gets.
func (r Result) WriteText(out io.Writer) error {
	d := r.Decision
	w := &textout.Writer{W: out}
	name := d.Domain
	if name == "" {
		name = r.Key
	}
	w.Textf("%s: %s — %s\n\n", name, d.Kind, decisionText[d.Kind])
	if d.Policy != nil {
		w.Printf("%-9s mode %s, max_age %d, id %s\n", "policy", d.Policy.Mode, d.Policy.MaxAge, textout.OrDash(d.ID))
		w.Printf("%-9s fetched %s, expires %s\n", "", d.Fetched.UTC().Format(time.RFC3339), d.Expires.UTC().Format(time.RFC3339))
		w.Printf("%-9s %s\n", "mx", textout.OrDash(strings.Join(d.MX, ", ")))
	}
	if r.MX != nil {
		covered := coveredHosts(d.MX, r.MX.Hosts)
		w.Textf("%-9s %s (covered by the policy: %s; until %s)\n", "mx hosts", textout.OrDash(strings.Join(r.MX.Hosts, ", ")),
			textout.OrDash(strings.Join(covered, ", ")), r.MX.Expires.UTC().Format(time.RFC3339))
	}
	if d.Override != nil {
		w.Textf("%-9s %s\n", "override", OverrideLine(d.Override))
	}
	w.Printf("%-9s %s\n", "source", d.Source)
	w.Textf("%-9s %s\n", "reason", d.Reason)
	if r.Note != "" {
		w.Textf("%-9s %s\n", "note", r.Note)
	}
	w.Printf("%-9s %s\n", "postfix", r.Reply.String())
	return w.Err
}
