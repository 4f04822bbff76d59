package enforce

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
	"github.com/mtasts/mtasts/sts"
)

// fakeDecider answers from maps and records the domains asked.
type fakeDecider struct {
	mu      sync.Mutex
	answers map[string]resolver.Decision
	hosts   map[string][]string // MX hosts by domain
	asked   []string
	mxSets  map[string]*resolver.MXHosts
}

func (f *fakeDecider) MX(_ context.Context, domain string) (*resolver.MXHosts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	hosts, ok := f.hosts[domain]
	if !ok {
		return nil, fmt.Errorf("%w for %s: SERVFAIL", resolver.ErrMX, domain)
	}
	// The same answer while the hosts are the same, as a cache keeps it.
	if m := f.mxSets[domain]; m != nil && slices.Equal(m.Hosts, hosts) {
		return m, nil
	}
	if f.mxSets == nil {
		f.mxSets = map[string]*resolver.MXHosts{}
	}
	f.mxSets[domain] = &resolver.MXHosts{Domain: domain, Hosts: hosts}
	return f.mxSets[domain], nil
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
		// RFC 8461 §4.1: the MX hosts covered, exact, in preference order.
		{"enforce", decision("example.com", resolver.Enforce, "mx1.example.com", "*.mail.example.com"), ReplyOptions{},
			"OK secure match=a.mail.example.com:mx1.example.com servername=hostname", "enforce"},
		{"enforce, Postfix 3.10.5 matches MX names", decision("example.com", resolver.Enforce, "mx1.example.com", "*.mail.example.com"),
			ReplyOptions{TLSRPT: true, MTAMatchesMX: true},
			"OK secure match=mx1.example.com:.mail.example.com servername=hostname policy_type=sts policy_domain=example.com mx_host_pattern=mx1.example.com mx_host_pattern=*.mail.example.com", "enforce"},
		{"enforce, no MX host covered", decision("example.com", resolver.Enforce, "*.example.net"), ReplyOptions{},
			"TEMP MTA-STS: no MX host covered by the policy: none of the MX hosts of example.com (b.in.mail.example.com, a.mail.example.com, mx1.example.com)", AnswerNoCoveredMX},
		{"enforce, Postfix before 3.4", decision("example.com", resolver.Enforce, "mx1.example.com"), ReplyOptions{NoServername: true},
			"OK secure match=mx1.example.com", "enforce"},
		// RFC 8461 §5: testing delivers anyway.
		{"testing", decision("example.com", resolver.Testing, "mx1.example.com"), ReplyOptions{}, "NOTFOUND ", "testing"},
		// Postfix 3.10: delivered as without a policy, and reported under it.
		{"testing, TLSRPT", decision("example.com", resolver.Testing, "mx1.example.com"), ReplyOptions{TLSRPT: true},
			"OK may policy_type=sts policy_domain=example.com mx_host_pattern=mx1.example.com", "testing"},
		{"strict testing", decision("example.com", resolver.Testing, "mx1.example.com"), ReplyOptions{StrictTesting: true},
			"OK secure match=mx1.example.com servername=hostname", "testing"},
		{"none", decision("example.com", resolver.None), ReplyOptions{}, "NOTFOUND ", "none"},
		{"no policy", decision("example.com", resolver.NoPolicy), ReplyOptions{}, "NOTFOUND ", "no-policy"},
		{"no policy, TLSRPT", decision("example.com", resolver.NoPolicy), ReplyOptions{TLSRPT: true}, "NOTFOUND ", "no-policy"},
		// RFC 8461 §3.3 with RFC 8460 §4.3.2.3: delivered as without a
		// policy, the failure reported.
		{"fetch failed, TLSRPT", resolver.Decision{Domain: "example.com", Kind: resolver.NoPolicy, Failure: resolver.WebPKIInvalid}, ReplyOptions{TLSRPT: true},
			"OK may policy_type=sts policy_domain=example.com policy_failure=sts-webpki-invalid", "no-policy"},
		{"fetch failed, before Postfix 3.10", resolver.Decision{Domain: "example.com", Kind: resolver.NoPolicy, Failure: resolver.WebPKIInvalid}, ReplyOptions{}, "NOTFOUND ", "no-policy"},
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
			mx := &resolver.MXHosts{Domain: "example.com", Hosts: []string{"b.in.mail.example.com", "a.mail.example.com", "mx1.example.com"}}
			r, answer, _ := Reply(tc.d, mx, tc.o)
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
	}, hosts: map[string][]string{"example.com": {"mx.example.com"}, "strict.example": {"mx.strict.example"}}}
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
	f := &fakeDecider{answers: map[string]resolver.Decision{"example.com": d},
		hosts: map[string][]string{"example.com": {"mx1.example.com", "mx2.example.com"}}}
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
	}, hosts: map[string][]string{"example.com": {"mx.example.com"}}}
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
