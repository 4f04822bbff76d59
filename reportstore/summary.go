package reportstore

import "context"

// SummaryBreakdowns are the failure breakdowns of Summary, in the order
// they are printed, with their headings.
var SummaryBreakdowns = []struct {
	By    Breakdown
	Title string
}{
	{ByResultType, "result type"},
	{ByOrganization, "sending organisation"},
	{ByMXHost, "MX host"},
	{ByReceivingIP, "receiving IP"},
}

// DaySessions is a DaySummary with its sessions and success rate
// computed, for JSON output.
type DaySessions struct {
	DaySummary
	Sessions    int64   `json:"sessions"`
	SuccessRate float64 `json:"success_rate"`
}

// DomainSummary is a policy domain over a period: its overview, its days
// and its largest groups of failures per SummaryBreakdowns.
type DomainSummary struct {
	DomainOverview
	Days        []DaySessions                `json:"days"`
	Sessions    int64                        `json:"sessions"`
	SuccessRate float64                      `json:"success_rate"`
	Failures    map[Breakdown][]FailureCount `json:"failures"`
}

// Summary sums up every policy domain f selects, with the top largest
// groups of failures of each of SummaryBreakdowns.
func (s *Store) Summary(ctx context.Context, f Filter, top int) ([]DomainSummary, error) {
	domains, err := s.Domains(ctx, f)
	if err != nil {
		return nil, err
	}
	out := []DomainSummary{}
	for _, d := range domains {
		ds := DomainSummary{DomainOverview: d, Sessions: d.Sessions(), SuccessRate: d.SuccessRate(), Failures: map[Breakdown][]FailureCount{}}
		for _, day := range d.Days {
			ds.Days = append(ds.Days, DaySessions{DaySummary: day, Sessions: day.Sessions(), SuccessRate: day.SuccessRate()})
		}
		df := f
		df.Domain = d.Domain
		for _, b := range SummaryBreakdowns {
			if ds.Failures[b.By], err = s.Failures(ctx, df, b.By, top); err != nil {
				return nil, err
			}
		}
		out = append(out, ds)
	}
	return out, nil
}
