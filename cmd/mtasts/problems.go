package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/mtasts/mtasts/sts"
)

// problem is one finding of lint or fetch, in text and JSON output.
type problem struct {
	Severity string `json:"severity"` // "error" or "warning"
	Line     int    `json:"line,omitempty"`
	Key      string `json:"key,omitempty"`
	Code     string `json:"code,omitempty"`
	Message  string `json:"message"`
	RFC      string `json:"rfc,omitempty"`
	// text is the one-line form for people, naming the line and section.
	text string
}

// policyJSON is a parsed policy in JSON output.
type policyJSON struct {
	Version string   `json:"version"`
	Mode    sts.Mode `json:"mode"`
	MaxAge  int64    `json:"max_age"`
	MX      []string `json:"mx"`
}

func newPolicyJSON(p *sts.Policy) *policyJSON {
	if p == nil {
		return nil
	}
	mx := p.MX
	if mx == nil {
		mx = []string{}
	}
	return &policyJSON{Version: p.Version, Mode: p.Mode, MaxAge: p.MaxAge, MX: mx}
}

func warningProblems(ws []sts.Warning) []problem {
	var ps []problem
	for _, w := range ws {
		ps = append(ps, problem{Severity: "warning", Line: w.Line, Key: w.Key, Code: w.Code, Message: w.Message, RFC: w.Section, text: w.String()})
	}
	return ps
}

// errorProblem turns an error from package sts into a problem, keeping the
// line, key and RFC section when the error carries them.
func errorProblem(err error) problem {
	p := problem{Severity: "error", Message: err.Error(), text: err.Error()}
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

// sortProblems orders problems for people: errors first, then by line.
func sortProblems(ps []problem) {
	rank := func(p problem) int {
		if p.Severity == "error" {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(ps, func(a, b problem) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.Line, b.Line)
	})
}

// verdictCode is the exit status for a result with these problems.
func verdictCode(ps []problem) int {
	code := exitOK
	for _, p := range ps {
		switch p.Severity {
		case "error":
			return exitErrors
		case "warning":
			code = exitWarnings
		}
	}
	return code
}

// marshalJSON is json.Marshal without escaping "<", ">" and "&": the
// output is for terminals, files and pipes, never HTML.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
