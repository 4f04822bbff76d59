package enforce

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
	"github.com/mtasts/mtasts/sts"
)

// fakeDecider answers from a map and records the domains asked.
type fakeDecider struct {
	mu      sync.Mutex
	answers map[string]resolver.Decision
	asked   []string
}

func (f *fakeDecider) Decide(_ context.Context, domain string) (resolver.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, domain)
	if d, ok := f.answers[domain]; ok {
		return d, nil
	}
	return resolver.Decision{Domain: domain, Kind: resolver.NoPolicy, Reason: "no record"}, nil
}

func decision(domain string, kind resolver.Kind, mx ...string) resolver.Decision {
	return resolver.Decision{Domain: domain, Kind: kind, MX: mx, Reason: "test"}
}

func TestReply(t *testing.T) {
	for _, tc := range []struct {
		name   string
		d      resolver.Decision
		o      ReplyOptions
		want   string
		answer Answer
	}{
		{"enforce", decision("example.com", resolver.Enforce, "mx1.example.com", "*.mail.example.com"), ReplyOptions{},
			"OK secure match=mx1.example.com:.mail.example.com servername=hostname", "enforce"},
		{"enforce, Postfix before 3.4", decision("example.com", resolver.Enforce, "mx1.example.com"), ReplyOptions{NoServername: true},
			"OK secure match=mx1.example.com", "enforce"},
		// RFC 8461 §5: testing delivers anyway.
		{"testing", decision("example.com", resolver.Testing, "mx1.example.com"), ReplyOptions{}, "NOTFOUND ", "testing"},
		{"strict testing", decision("example.com", resolver.Testing, "mx1.example.com"), ReplyOptions{StrictTesting: true},
			"OK secure match=mx1.example.com servername=hostname", "testing"},
		{"none", decision("example.com", resolver.None), ReplyOptions{}, "NOTFOUND ", "none"},
		{"no policy", decision("example.com", resolver.NoPolicy), ReplyOptions{}, "NOTFOUND ", "no-policy"},
		// A temporary DNS failure is not "no policy": Postfix must defer.
		{"tempfail", resolver.Decision{Domain: "example.com", Kind: resolver.Tempfail, Reason: "SERVFAIL\nfor _mta-sts.example.com"}, ReplyOptions{},
			"TEMP MTA-STS policy of example.com unknown for now: SERVFAIL for _mta-sts.example.com", "tempfail"},
		// RFC 8461 §2: DANE governs.
		{"dane", decision("example.com", resolver.DANE), ReplyOptions{}, "OK dane", "dane"},
		// RFC 8461 §5: an enforced policy no MX can satisfy defers the
		// mail; an empty match list never reaches Postfix.
		{"enforce without usable mx", decision("example.com", resolver.Enforce), ReplyOptions{}, "TEMP MTA-STS: no usable mx pattern", AnswerUnusable},
		{"enforce with only an IP", decision("example.com", resolver.Enforce, "192.0.2.1"), ReplyOptions{}, "TEMP MTA-STS: no usable mx pattern", AnswerUnusable},
		{"strict testing without usable mx", decision("example.com", resolver.Testing), ReplyOptions{StrictTesting: true}, "TEMP MTA-STS: no usable mx pattern", AnswerUnusable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, answer, _ := Reply(tc.d, tc.o)
			if !strings.HasPrefix(r.String(), tc.want) || answer != tc.answer {
				t.Errorf("got %q (%s), want %q (%s)", r.String(), answer, tc.want, tc.answer)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	f := &fakeDecider{answers: map[string]resolver.Decision{
		"example.com":    decision("example.com", resolver.Enforce, "mx.example.com"),
		"strict.example": decision("strict.example", resolver.Testing, "mx.strict.example"),
	}}
	var answers []Answer
	h := &Handler{
		Resolver: f,
		Options:  func(d string) ReplyOptions { return ReplyOptions{StrictTesting: d == "strict.example"} },
		Answered: func(a Answer) { answers = append(answers, a) },
	}
	for _, tc := range []struct{ key, want string }{
		{"Example.COM", "OK secure match=mx.example.com servername=hostname"},
		{"example.com:2525", "OK secure match=mx.example.com servername=hostname"},
		{"strict.example", "OK secure match=mx.strict.example servername=hostname"},
		{".example.com", "NOTFOUND "},
		{"nothing.example", "NOTFOUND "},
	} {
		if got := h.Lookup(t.Context(), socketmap.Request{Map: "postfix", Key: tc.key}).String(); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.key, got, tc.want)
		}
	}
	// The resolver is asked for policy domains (ParseNextHop) only: a key
	// without one costs no lookup.
	want := []string{"example.com", "example.com", "strict.example", "nothing.example"}
	if strings.Join(f.asked, " ") != strings.Join(want, " ") {
		t.Errorf("resolver asked for %q, want %q", f.asked, want)
	}
	if len(answers) != 5 || answers[3] != AnswerNoDomain {
		t.Errorf("answers %q", answers)
	}
}

// Replies built from a cached policy are remembered per policy and
// options; a change of options or of policy gives a new reply.
func TestHandlerRemembersReplies(t *testing.T) {
	p1 := &sts.Policy{Mode: sts.ModeTesting, MX: []string{"mx1.example.com"}}
	p2 := &sts.Policy{Mode: sts.ModeTesting, MX: []string{"mx2.example.com"}}
	d := resolver.Decision{Domain: "example.com", Kind: resolver.Testing, MX: p1.MX, Policy: p1}
	f := &fakeDecider{answers: map[string]resolver.Decision{"example.com": d}}
	strict := false
	h := &Handler{Resolver: f, Options: func(string) ReplyOptions { return ReplyOptions{StrictTesting: strict} }}
	lookup := func() string {
		return h.Lookup(t.Context(), socketmap.Request{Map: "postfix", Key: "example.com"}).String()
	}
	for _, step := range []struct {
		strict bool
		policy *sts.Policy
		want   string
	}{
		{false, p1, "NOTFOUND "},
		{true, p1, "OK secure match=mx1.example.com servername=hostname"},
		{true, p1, "OK secure match=mx1.example.com servername=hostname"},
		{true, p2, "OK secure match=mx2.example.com servername=hostname"},
		{false, p2, "NOTFOUND "},
	} {
		strict = step.strict
		d.Policy, d.MX = step.policy, step.policy.MX
		f.answers["example.com"] = d
		if got := lookup(); got != step.want {
			t.Errorf("strict %v, policy %v: got %q, want %q", step.strict, step.policy.MX, got, step.want)
		}
	}
}

// An IP address in an enforced policy never reaches Postfix; the pattern
// left out is named in a warning once per policy, not at every lookup.
func TestHandlerWarnsOnceAboutLeftOutPatterns(t *testing.T) {
	p := &sts.Policy{Mode: sts.ModeEnforce, MX: []string{"192.0.2.1", "mx.example.com"}}
	f := &fakeDecider{answers: map[string]resolver.Decision{
		"example.com": {Domain: "example.com", Kind: resolver.Enforce, MX: []string{"mx.example.com"}, Policy: p},
	}}
	var logs strings.Builder
	h := &Handler{Resolver: f, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	for range 3 {
		if got := h.Lookup(t.Context(), socketmap.Request{Map: "postfix", Key: "example.com"}).String(); got != "OK secure match=mx.example.com servername=hostname" {
			t.Fatalf("got %q", got)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), `\"192.0.2.1\" (an IP address`) {
		t.Errorf("%d warnings:\n%s", n, logs.String())
	}
}
