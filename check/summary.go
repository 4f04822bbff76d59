package check

import (
	"cmp"
	"fmt"
	"io"
	"slices"
)

// Summary aggregates the results of many domains into the table a
// measurement study publishes: how many domains have an MTA-STS record,
// how many apply each policy, and how many show each finding code. It
// keeps counts only, so memory stays flat. It is not safe for concurrent
// use.
type Summary struct {
	// Domains is the number of domains checked.
	Domains int `json:"domains"`
	// Failed is the number of entries that could not be checked (not
	// domain names); they are not part of Domains.
	Failed int `json:"failed"`
	// WithRecord counts domains with one valid _mta-sts record.
	WithRecord int `json:"with_record"`
	// Policies counts domains by Verdict.Policy.
	Policies map[string]int `json:"policies"`
	// Statuses counts domains by Verdict.Status.
	Statuses map[string]int `json:"statuses"`
	// Codes counts, for each code, the domains with at least one finding
	// of that code.
	Codes map[Code]int `json:"codes"`
}

// NewSummary returns an empty Summary.
func NewSummary() *Summary {
	return &Summary{Policies: map[string]int{}, Statuses: map[string]int{}, Codes: map[Code]int{}}
}

// Add counts one item: its result, or its failure.
func (s *Summary) Add(it Item) {
	r := it.Result
	if it.Err != nil || r == nil {
		s.Failed++
		return
	}
	s.Domains++
	if r.Facts.Record.Valid {
		s.WithRecord++
	}
	s.Policies[r.Verdict.Policy]++
	s.Statuses[r.Verdict.Status]++
	seen := map[Code]bool{}
	for _, f := range r.Findings {
		if !seen[f.Code] {
			seen[f.Code] = true
			s.Codes[f.Code]++
		}
	}
}

// share renders n as a percentage of the domains checked.
func (s *Summary) share(n int) string {
	if s.Domains == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(s.Domains))
}

// WriteText writes the summary as two tables: the domains by record,
// policy and status, then each finding code seen, most frequent first.
func (s *Summary) WriteText(w io.Writer) error {
	t := &textWriter{w: w}
	t.printf("Summary: %s checked", plural(s.Domains, "domain"))
	if s.Failed > 0 {
		t.printf(", %d not checked (not domain names)", s.Failed)
	}
	t.printf("\n\n%-34s %8s %8s\n", "", "domains", "share")
	row := func(label string, n int) { t.printf("%-34s %8d %8s\n", label, n, s.share(n)) }
	row("with an MTA-STS record", s.WithRecord)
	for _, p := range []string{PolicyEnforce, PolicyTesting, PolicyNone, PolicyNoPolicy, PolicyTempfail, PolicyResolverTimeout} {
		row("policy "+p, s.Policies[p])
	}
	for _, st := range []string{StatusOK, StatusWarning, StatusError} {
		row("status "+st, s.Statuses[st])
	}
	if n := s.Codes[resolverTimeout]; n > 0 {
		t.printf("\n%s could not be checked in full: the DNS resolver did not answer in time\n(resolver-timeout), which says nothing about those domains. Check them again\nwith a lower --concurrency, or with a --resolver that keeps up.\n", plural(n, "domain"))
	}
	if len(s.Codes) == 0 {
		return t.err
	}
	codes := make([]Code, 0, len(s.Codes))
	for c := range s.Codes {
		codes = append(codes, c)
	}
	slices.SortFunc(codes, func(a, b Code) int {
		return cmp.Or(cmp.Compare(s.Codes[b], s.Codes[a]), cmp.Compare(index[a], index[b]), cmp.Compare(a, b))
	})
	t.printf("\n%-34s %-8s %8s %8s\n", "finding code", "severity", "domains", "share")
	for _, c := range codes {
		d, _ := lookup(c)
		t.printf("%-34s %-8s %8d %8s\n", c, d.Severity, s.Codes[c], s.share(s.Codes[c]))
	}
	return t.err
}
