package enforce

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
	"github.com/mtasts/mtasts/sts"
)

// Answer names what a reply told Postfix, for logs and metrics: a
// resolver.Kind, or one of the two answers below.
type Answer string

// Answers besides the decision kinds.
const (
	// AnswerUnusable: an enforced policy with no usable mx pattern,
	// answered TEMP (see SecurePolicy).
	AnswerUnusable Answer = "unusable"
	// AnswerNoDomain: the lookup key names no policy domain (a parent
	// domain, an address literal, a socket path), answered NOTFOUND
	// without any lookup.
	AnswerNoDomain Answer = "no-domain"
)

// Reply returns the socketmap reply to Postfix for a decision of the
// resolver, what it amounts to, and, when the reply needs explaining in
// the log (patterns left out, a policy that cannot be enforced), a note.
//
//	Enforce, Testing with o.StrictTesting   OK secure match=… (SecurePolicy)
//	Testing, None, NoPolicy                 NOTFOUND
//	Tempfail                                TEMP <reason>
//	DANE                                    OK dane
//
// An enforced policy without usable mx patterns is TEMP: RFC 8461 §5 says
// never to deliver to an MX host that fails validation, and to treat that
// as a temporary failure, so Postfix keeps the mail and retries, by which
// time the domain may have fixed its policy.
func Reply(d resolver.Decision, o ReplyOptions) (socketmap.Reply, Answer, string) {
	kind := d.Kind
	switch kind {
	case resolver.Testing:
		if !o.StrictTesting {
			return socketmap.NotFound(), Answer(kind), ""
		}
		fallthrough
	case resolver.Enforce:
		patterns, text := d.MX, d.Text
		if d.Policy != nil {
			// The policy's own list, so that what is left out is named.
			patterns = d.Policy.MX
			if text == "" {
				text = d.Policy.String()
			}
		}
		policy, dropped, err := SecurePolicy(d.Domain, patterns, text, o)
		if err != nil {
			return socketmap.Temp("MTA-STS: " + err.Error()), AnswerUnusable, err.Error()
		}
		note := ""
		if len(dropped) > 0 {
			note = "mx patterns left out: " + strings.Join(dropped, ", ")
		}
		return socketmap.OK(policy), Answer(kind), note
	case resolver.Tempfail:
		return socketmap.Temp("MTA-STS policy of " + d.Domain + " unknown for now: " + oneLine(d.Reason)), Answer(kind), ""
	case resolver.DANE:
		// RFC 8461 §2: MTA-STS never overrides DANE.
		return socketmap.OK("dane"), Answer(kind), ""
	default: // None, NoPolicy
		return socketmap.NotFound(), Answer(kind), ""
	}
}

// oneLine folds runs of white space and control characters into single
// spaces, so that a reason reads as one log line in Postfix.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }), " ")
}

// Decider makes MTA-STS decisions; *resolver.Resolver is one.
type Decider interface {
	Decide(ctx context.Context, domain string) (resolver.Decision, error)
}

// Handler answers smtp_tls_policy_maps lookups over socketmap: it parses
// the key (ParseNextHop), asks Resolver about the policy domain and
// replies with Reply. Set its fields before serving.
type Handler struct {
	// Resolver decides; required.
	Resolver Decider
	// Options returns the options for a policy domain (per-zone
	// settings); nil means the zero ReplyOptions for every domain. It is
	// asked only for the decisions that options shape, Enforce and
	// Testing, so that a decision looks its zone up once at most (the
	// resolver asks about DNS failures only).
	Options func(domain string) ReplyOptions
	// Logger receives one line per lookup at Debug, and at Warn the
	// lookups that Postfix will defer and, once per policy, patterns left
	// out of a reply; nil discards them.
	Logger *slog.Logger
	// Answered, if set, is called after every lookup with its answer; it
	// is the hook for metrics and must be quick.
	Answered func(Answer)

	memo     sync.Map // memoKey → replied
	memoSize atomic.Int64
}

// Result is the whole answer to one lookup key.
type Result struct {
	// Key is the lookup key.
	Key string
	// Decision is the resolver's; for a key without a policy domain it is
	// NoPolicy with Source resolver.SourceNextHop and the reason.
	Decision resolver.Decision
	// Err is the resolver's error, if any (see resolver.Resolver.Decide).
	Err error
	// Reply is what Postfix is told; Answer and Note as returned by Reply.
	Reply  socketmap.Reply
	Answer Answer
	Note   string

	built bool // Reply was built now, not remembered
}

// Resolve answers a lookup key as Lookup does, with everything behind the
// reply, for people ("mtasts query") and logs.
func (h *Handler) Resolve(ctx context.Context, key string) Result {
	nh, err := ParseNextHop(key)
	if err != nil {
		return Result{
			Key:      key,
			Decision: resolver.Decision{Kind: resolver.NoPolicy, Source: resolver.SourceNextHop, Reason: err.Error()},
			Reply:    socketmap.NotFound(),
			Answer:   AnswerNoDomain,
		}
	}
	res := Result{Key: key}
	res.Decision, res.Err = h.Resolver.Decide(ctx, nh.Domain)
	var o ReplyOptions
	if k := res.Decision.Kind; h.Options != nil && (k == resolver.Enforce || k == resolver.Testing) {
		o = h.Options(nh.Domain)
	}
	res.Reply, res.Answer, res.Note, res.built = h.reply(res.Decision, o)
	return res
}

// memoMax bounds the replies a Handler remembers; when it is reached they
// are all forgotten and remembered anew.
const memoMax = 10000

// memoKey identifies a reply built from a policy: the policy object, which
// a cache entry keeps for its whole life, and everything else the reply
// depends on but the domain, which is checked on a hit instead (hashing
// it would cost more than comparing it).
type memoKey struct {
	policy *sts.Policy
	kind   resolver.Kind
	o      ReplyOptions
}

// replied is a remembered result of Reply.
type replied struct {
	domain string
	reply  socketmap.Reply
	answer Answer
	note   string
}

// reply is Reply, remembering the replies built from cached policies so
// that answering from the cache does not build the same policy text for
// every lookup. built says whether the reply was built by this call.
func (h *Handler) reply(d resolver.Decision, o ReplyOptions) (_ socketmap.Reply, _ Answer, note string, built bool) {
	if d.Policy == nil {
		r, a, note := Reply(d, o)
		return r, a, note, true
	}
	key := memoKey{d.Policy, d.Kind, o}
	if v, ok := h.memo.Load(key); ok {
		if r := v.(*replied); r.domain == d.Domain {
			return r.reply, r.answer, r.note, false
		}
	}
	r, a, note := Reply(d, o)
	if h.memoSize.Add(1) > memoMax {
		h.memo.Clear()
		h.memoSize.Store(1)
	}
	h.memo.Store(key, &replied{d.Domain, r, a, note})
	return r, a, note, true
}

// discard is the Logger of a Handler without one.
var discard = slog.New(slog.DiscardHandler)

// Lookup implements socketmap.Handler.
func (h *Handler) Lookup(ctx context.Context, req socketmap.Request) socketmap.Reply {
	res := h.Resolve(ctx, req.Key)
	h.record(ctx, req.Key, res)
	return res.Reply
}

// record logs and counts the answer res to a lookup of key, as Logger and
// Answered ask.
func (h *Handler) record(ctx context.Context, key string, res Result) {
	log := h.Logger
	if log == nil {
		log = discard
	}
	if h.Answered != nil {
		h.Answered(res.Answer)
	}
	d := res.Decision
	if res.Err != nil && d.Kind != resolver.Tempfail && !errors.Is(res.Err, context.Canceled) {
		log.WarnContext(ctx, "resolver error", "key", key, "domain", d.Domain, "err", res.Err)
	}
	level, msg := slog.LevelDebug, "lookup"
	switch {
	case res.Reply.Status == socketmap.StatusTemp && d.Source == resolver.SourceOverload:
		// A flood of new domains would log a line each; the metrics count
		// them (mtasts_decisions_total{source="overload"}).
		msg = "lookup deferred"
	case res.Reply.Status == socketmap.StatusTemp:
		level, msg = slog.LevelWarn, "lookup deferred"
	case res.Note != "" && res.built:
		// Warned about when the reply is built, then logged like others.
		level = slog.LevelWarn
	}
	// Most lookups are not logged: build no attributes for them.
	if log.Enabled(ctx, level) {
		attrs := []any{"key", key, "domain", d.Domain, "answer", res.Answer, "source", d.Source}
		switch {
		case res.Reply.Status == socketmap.StatusTemp:
			attrs = append(attrs, "reason", oneLine(d.Reason), "note", res.Note)
		case res.Note != "":
			attrs = append(attrs, "note", res.Note)
		default:
			attrs = append(attrs, "reason", d.Reason)
		}
		log.Log(ctx, level, msg, attrs...)
	}
}
