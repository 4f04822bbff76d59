package rollout

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/sts"
)

// WriteText renders the verdict for people: the verdict, the reasons,
// then the evidence in tables.
func (v *Verdict) WriteText(out io.Writer) error {
	w := &textout.Writer{W: out}
	ev := &v.Evidence
	w.Printf("%s: %s (last %d days; served mode %s, policy id %s)\n", v.Domain, v.Status, v.WindowDays, ev.Policy.Mode, ev.Policy.ID)
	for _, r := range v.Reasons {
		w.Printf("  %s: %s\n", r.Code, r.Message)
	}
	w.Printf("\nEvidence: %s, %d failed, %s with reports, %s.\n", textout.Plural(ev.Sessions, "session"), ev.Failures,
		textout.Plural(ev.Days, "day"), textout.Plural(len(ev.ByOrganization), "organisation"))
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	tally := func(title string, ts []Tally) {
		if len(ts) == 0 {
			return
		}
		fmt.Fprintf(tw, "\n%s\tsessions\tfailed\trate\n", title)
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f %%\n", t.Key, t.Sessions, t.Failures, 100*t.FailureRate)
		}
	}
	tally("organisation", ev.ByOrganization)
	tally("result type", ev.ByResultType)
	var hosts []Tally
	for _, h := range ev.ByMXHost {
		hosts = append(hosts, h.Tally)
	}
	tally("MX host", hosts)
	if len(ev.LiveMX) > 0 {
		fmt.Fprintf(tw, "\nlive MX host\tcovered\tvalidates\t\n")
		for _, mx := range ev.LiveMX {
			fmt.Fprintf(tw, "%s\t%s\t%s\t\n", mx.Host, yesNo(mx.Covered), yesNo(len(mx.Problems) == 0))
		}
	}
	if err := tw.Flush(); err != nil && w.Err == nil {
		w.Err = err
	}
	return w.Err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// WriteText says, for people, what changed and what to publish.
// dnsUpdate tells that the server publishes records itself by RFC 2136
// update ([serve.dns_update] configured).
func (c *Change) WriteText(out io.Writer, dnsUpdate bool) error {
	w := &textout.Writer{W: out}
	w.Printf("\n%s: mode %s → %s, policy id %s → %s\n", c.Domain, c.Old.Mode, c.New.Mode, c.Old.ID, orPending(c.New.ID))
	if rec := c.Record(); rec != "" {
		w.Printf("Publish the new id (RFC 8461 §3.1):\n  %s\n", rec)
		if dnsUpdate {
			w.Printf("mtasts serve publishes it itself by RFC 2136 update ([serve.dns_update]) as soon as it serves the new id, unless the domain has dns_update = false.\n")
		}
	} else {
		w.Printf("The running mtasts serve has not loaded the change yet: reload it (SIGHUP), then \"mtasts policy records %s\" gives the record to publish.\n", c.Domain)
	}
	if !c.RemovableAt.IsZero() {
		w.Printf("Keep serving this policy and its record until %s (the old max_age, RFC 8461 §8.3); then remove the _mta-sts record first, the policy host after.\n",
			c.RemovableAt.UTC().Format(time.RFC3339))
	}
	return w.Err
}

func orPending(id string) string {
	if id == "" {
		return "(pending)"
	}
	return id
}

// WriteHistory renders the audit log entries of domain for people, one
// change a line.
func WriteHistory(out io.Writer, domain string, entries []reportstore.AuditEntry) error {
	if len(entries) == 0 {
		_, err := fmt.Fprintf(out, "%s: no change recorded\n", domain)
		return err
	}
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "time\tactor\taction\tmode\tpolicy id\tverdict\n")
	for _, en := range entries {
		verdict := en.Verdict
		if en.Forced {
			verdict += " (forced)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s → %s\t%s → %s\t%s\n", en.Time.UTC().Format(time.RFC3339), en.Actor, en.Action,
			textMode(en.OldPolicy), textMode(en.NewPolicy), en.OldID, orPending(en.NewID), strings.TrimSpace(verdict))
	}
	return tw.Flush()
}

// textMode returns the mode of a policy text, or "?".
func textMode(text string) string {
	p, err := sts.ParsePolicy([]byte(text))
	if err != nil {
		return "?"
	}
	return string(p.Mode)
}
