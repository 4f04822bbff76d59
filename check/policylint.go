package check

import (
	"fmt"
	"io"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/sts"
)

// MaxLintBytes is the largest policy file LintPolicy reads; larger input
// is invalid, as senders read at most sts.DefaultMaxBytes of it. Callers
// read at most one byte more.
const MaxLintBytes = 16 * sts.DefaultMaxBytes

// PolicyLint is the result of linting one policy file.
type PolicyLint struct {
	File     string      `json:"file"`
	Valid    bool        `json:"valid"`
	Policy   *PolicyView `json:"policy,omitempty"`
	Problems []Problem   `json:"problems"`

	errors, warnings int
}

// LintPolicy validates the policy file named name, whose content is data,
// against every rule of RFC 8461 §3.2 and warns about what is valid but
// unwise. Every error is reported, each with its line.
func LintPolicy(name string, data []byte) *PolicyLint {
	var p *sts.Policy
	var warnings []sts.Warning
	var errs []*sts.SyntaxError
	if len(data) > MaxLintBytes {
		errs = []*sts.SyntaxError{{Reason: fmt.Sprintf("policy is over %d KiB; senders read at most %d KiB of it", MaxLintBytes>>10, sts.DefaultMaxBytes>>10),
			Section: "RFC 8461 §3.3"}}
	} else {
		p, warnings, errs = sts.LintPolicy(data)
	}
	res := &PolicyLint{File: name, Valid: len(errs) == 0, Policy: newPolicyView(p), Problems: []Problem{}, errors: len(errs), warnings: len(warnings)}
	for _, err := range errs {
		res.Problems = append(res.Problems, errorProblem(err))
	}
	res.Problems = append(res.Problems, warningProblems(warnings)...)
	sortProblems(res.Problems)
	return res
}

// Status is StatusError for an invalid policy, StatusWarning for a valid
// one with warnings, else StatusOK.
func (r *PolicyLint) Status() string { return problemsStatus(r.Problems) }

// WriteText writes the result for people: a verdict line, then one line
// per problem. The file name and problems are escaped for the terminal.
func (r *PolicyLint) WriteText(w io.Writer) error {
	t := &textout.Writer{W: w}
	p := r.Policy
	switch {
	case !r.Valid:
		t.Textf("%s: invalid, %s\n", r.File, textout.Plural(r.errors, "error"))
	case r.warnings > 0:
		t.Textf("%s: valid, %s (mode %s, max_age %d, %d mx)\n", r.File, textout.Plural(r.warnings, "warning"), p.Mode, p.MaxAge, len(p.MX))
	default:
		t.Textf("%s: valid (mode %s, max_age %d, %d mx)\n", r.File, p.Mode, p.MaxAge, len(p.MX))
	}
	for _, pr := range r.Problems {
		t.Textf("  %s: %s\n", pr.Severity, pr.text)
	}
	return t.Err
}
