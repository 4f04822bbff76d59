package policyhost

import (
	"io"
	"strings"

	"github.com/mtasts/mtasts/internal/textout"
)

// QuoteTXT renders s as the character-strings of a TXT record in
// zone-file syntax: quoted, with quotes and backslashes escaped, split
// every 255 bytes (RFC 1035 §3.3.14).
func QuoteTXT(s string) string {
	var parts []string
	for len(s) > 0 {
		n := min(len(s), 255)
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s[:n])
		parts = append(parts, `"`+r+`"`)
		s = s[n:]
	}
	return strings.Join(parts, " ")
}

// WriteZone renders the records of the domains as zone-file lines with
// the given TTL, each commented with its status in DNS, then how many
// are published.
func WriteZone(out io.Writer, ttl int, results []DomainRecords) error {
	w := &textout.Writer{W: out}
	published, total := 0, 0
	for i, r := range results {
		if i > 0 {
			w.Printf("\n")
		}
		w.Printf("; %s: policy id %s\n", r.Domain, r.ID)
		for _, rec := range r.Records {
			total++
			value := rec.Value
			if rec.Type == "TXT" {
				value = QuoteTXT(value)
			}
			comment := string(rec.Status)
			if len(rec.Live) > 0 && rec.Status != StatusPublished {
				comment += "; DNS has " + strings.Join(rec.Live, ", ")
			}
			if rec.Detail != "" {
				comment += "; " + rec.Detail
			}
			prefix := ""
			if strings.HasPrefix(value, "<") { // a placeholder, not zone-file syntax
				prefix = "; "
			}
			if rec.Status == StatusPublished {
				published++
			}
			w.Printf("%s%s\t%d\tIN\t%s\t%s\t; %s\n", prefix, rec.Name, ttl, rec.Type, value, comment)
		}
	}
	w.Printf("\n; %d of %d records published.", published, total)
	if published < total {
		w.Printf(" Publish the policy host first, then the _mta-sts record: senders fetch the policy as soon as they see it.")
	}
	w.Printf("\n")
	return w.Err
}
