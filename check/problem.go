package check

import (
	"cmp"
	"errors"
	"slices"
	"strings"

	"github.com/mtasts/mtasts/sts"
)

// Problem is one thing wrong with a single policy or record, as found by
// LintPolicy and FetchPolicy: an error that makes it unusable or a warning
// about what is valid but unwise.
type Problem struct {
	Severity string `json:"severity"` // StatusError or StatusWarning
	Line     int    `json:"line,omitempty"`
	Key      string `json:"key,omitempty"`
	Code     string `json:"code,omitempty"`
	Message  string `json:"message"`
	RFC      string `json:"rfc,omitempty"`
	// text is the one-line form for people, naming the line and section.
	text string
}

// String returns the problem in one line for people, with its line and
// RFC section.
func (p Problem) String() string { return p.text }

// PolicyView is a parsed policy in JSON output.
type PolicyView struct {
	Version string   `json:"version"`
	Mode    sts.Mode `json:"mode"`
	MaxAge  int64    `json:"max_age"`
	MX      []string `json:"mx"`
}

// newPolicyView returns the view of p, nil for nil.
func newPolicyView(p *sts.Policy) *PolicyView {
	if p == nil {
		return nil
	}
	mx := p.MX
	if mx == nil {
		mx = []string{}
	}
	return &PolicyView{Version: p.Version, Mode: p.Mode, MaxAge: p.MaxAge, MX: mx}
}

// warningProblems returns the problems of policy warnings.
func warningProblems(ws []sts.Warning) []Problem {
	var ps []Problem
	for _, w := range ws {
		ps = append(ps, Problem{Severity: StatusWarning, Line: w.Line, Key: w.Key, Code: w.Code, Message: w.Message, RFC: w.Section, text: w.String()})
	}
	return ps
}

// errorProblem returns the problem of an error of package sts, with the
// code, line, key and RFC section its type carries.
func errorProblem(err error) Problem {
	p := Problem{Severity: StatusError, Message: err.Error(), text: err.Error()}
	var se *sts.SyntaxError
	var re *sts.RecordSyntaxError
	var fe *sts.FetchError
	switch {
	case errors.As(err, &se):
		p.Code, p.Line, p.Key, p.RFC = "policy-syntax", se.Line, se.Key, se.Section
	case errors.As(err, &re):
		p.Code, p.Key, p.RFC = "record-syntax", re.Field, "RFC 8461 §3.1"
	case errors.As(err, &fe):
		p.Code, p.RFC = "fetch-"+fe.Stage, "RFC 8461 §3.3"
	case errors.Is(err, sts.ErrNoRecord):
		p.Code, p.RFC = "no-record", "RFC 8461 §3.1"
	}
	if p.RFC != "" && !strings.Contains(p.text, p.RFC) {
		p.text += " (" + p.RFC + ")"
	}
	return p
}

// sortProblems puts errors first, then warnings, each by line.
func sortProblems(ps []Problem) {
	rank := func(p Problem) int {
		if p.Severity == StatusError {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.Line, b.Line)
	})
}

// problemsStatus is StatusError if any problem is an error, else
// StatusWarning if there is any problem, else StatusOK.
func problemsStatus(ps []Problem) string {
	st := StatusOK
	for _, p := range ps {
		if p.Severity == StatusError {
			return StatusError
		}
		st = StatusWarning
	}
	return st
}
