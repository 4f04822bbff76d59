package check

//go:generate go test -run TestFindingsDoc -update .

import (
	"io"
	"strings"
)

// WriteFindingsDoc writes the catalogue as Markdown: the text of
// docs/findings.md, which a test keeps equal to this output.
func WriteFindingsDoc(w io.Writer) error {
	t := &textWriter{w: w}
	t.printf(`# Findings of mtasts check

<!-- Generated from check/catalogue.go by "go generate ./check"; do not edit. -->

Every finding of ` + "`mtasts check`" + ` has a stable code (it never changes meaning,
so scripts and dashboards can match on it), a severity, the subject it is
about (a DNS name, the policy host, an MX host, or an MX host and address),
a message with the value observed, the RFC section of the rule, and a fix.

Severities:

- **error**: MTA-STS or delivery is broken: senders would find no usable
  policy, or a sender enforcing the policy would refuse an MX host.
  ` + "`mtasts check`" + ` exits with status 2.
- **warning**: it works today but is risky or weakens protection. Exit
  status 1 when there is no error.
- **info**: a fact worth knowing; nothing to fix.

Codes marked *blocks* are failures of RFC 8461 §4: under ` + "`mode: enforce`" + `
they make senders refuse the MX host, and are then also reported as
` + "`enforce-blocks-mx`" + `.

`)
	for _, area := range Areas {
		t.printf("## %s\n\n", area.Title())
		t.printf("| code | severity | meaning | fix | rule |\n|---|---|---|---|---|\n")
		for _, d := range catalogue {
			if d.Area != area {
				continue
			}
			sev := string(d.Severity)
			if d.Blocks {
				sev += ", blocks"
			}
			t.printf("| `%s` | %s | %s | %s | %s |\n", d.Code, sev, cell(d.Meaning), cell(d.Fix), d.RFC)
		}
		t.printf("\n")
	}
	return t.err
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "_", `\_`, "*", `\*`).Replace(s)
}
