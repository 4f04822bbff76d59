package enforce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
	"github.com/mtasts/mtasts/sts"
)

// Answer names what a reply told Postfix, for logs and metrics: a
// resolver.Kind, or one of the answers below.
type Answer string

// Answers besides the decision kinds.
const (
	// AnswerUnusable: an enforced policy with no usable mx pattern,
	// answered TEMP (see SecurePolicy).
	AnswerUnusable Answer = "unusable"
	// AnswerNoCoveredMX: an enforced policy that covers none of the MX
	// hosts the domain publishes, answered TEMP (see SecurePolicy).
	AnswerNoCoveredMX Answer = "no-covered-mx"
	// AnswerMXUnknown: an enforced policy for a Postfix that needs the MX
	// host names in the reply, whose MX hosts could not be looked up,
	// answered TEMP.
	AnswerMXUnknown Answer = "mx-unknown"
	// AnswerNoDomain: the lookup key names no policy domain (a parent
	// domain, an address literal, a socket path), answered NOTFOUND
	// without any lookup.
	AnswerNoDomain Answer = "no-domain"
)

// needsMX reports whether the reply to a decision of kind under o lists
// MX host names, so that the MX hosts of the domain must be known.
func needsMX(kind resolver.Kind, o ReplyOptions) bool {
	enforced := kind == resolver.Enforce || kind == resolver.Testing && o.StrictTesting
	return enforced && !o.MTAMatchesMX
}

// Reply returns the socketmap reply to Postfix for a decision of the
// resolver, given the MX hosts the domain publishes (needed, see needsMX,
// for Enforce when Postfix does not match MX host names itself; nil when
// not known), what it amounts to, and, when the reply needs explaining in
// the log (patterns left out, a policy that cannot be enforced), a note.
//
//	Enforce, Testing with o.StrictTesting   OK secure match=… (SecurePolicy)
//	Testing with o.TLSRPT                   OK may policy_type=sts … (ReportPolicy)
//	Testing, None, NoPolicy                 NOTFOUND
//	NoPolicy after a failed fetch, o.TLSRPT OK may … policy_failure=… (FailurePolicy)
//	Tempfail                                TEMP <reason>
//	DANE                                    OK dane
//
// An enforced policy without usable mx patterns, or covering none of the
// domain's MX hosts, or whose MX hosts are unknown, is TEMP: RFC 8461 §5
// says never to deliver to an MX host that fails validation, and to treat
// that as a temporary failure, so Postfix keeps the mail and retries, by
// which time the domain may have fixed its policy or its MX records.
func Reply(d resolver.Decision, mx *resolver.MXHosts, o ReplyOptions) (socketmap.Reply, Answer, string) {
	kind := d.Kind
	switch kind {
	case resolver.Testing:
		if !o.StrictTesting {
			if o.TLSRPT {
				patterns, text := policyOf(d)
				return socketmap.OK(ReportPolicy(d.Domain, patterns, text)), Answer(kind), ""
			}
			return socketmap.NotFound(), Answer(kind), ""
		}
		fallthrough
	case resolver.Enforce:
		patterns, text := policyOf(d)
		var hosts []string
		if needsMX(kind, o) {
			if mx == nil {
				err := fmt.Errorf("%w for %s", resolver.ErrMX, d.Domain)
				return socketmap.Temp("MTA-STS: " + err.Error()), AnswerMXUnknown, err.Error()
			}
			hosts = mx.Hosts
		}
		policy, dropped, err := SecurePolicy(d.Domain, patterns, hosts, text, o)
		switch {
		case errors.Is(err, ErrNoCoveredMX):
			return socketmap.Temp("MTA-STS: " + err.Error()), AnswerNoCoveredMX, err.Error()
		case err != nil:
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
	case resolver.NoPolicy:
		if o.TLSRPT && d.Failure != resolver.NoFetchFailure {
			return socketmap.OK(FailurePolicy(d.Domain, d.Failure.ResultType())), Answer(kind), ""
		}
		return socketmap.NotFound(), Answer(kind), ""
	default: // None
		return socketmap.NotFound(), Answer(kind), ""
	}
}

// policyOf returns the mx patterns and the text of the policy applied by
// d: the policy's own list, so that what is left out is named.
func policyOf(d resolver.Decision) (patterns []string, text string) {
	patterns, text = d.MX, d.Text
	if d.Policy != nil {
		patterns = d.Policy.MX
		if text == "" {
			text = d.Policy.String()
		}
	}
	return patterns, text
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
	// asked only for the decisions that options shape, Enforce, Testing
	// and a NoPolicy with a Failure, so that a decision looks its zone up
	// once at most (the resolver asks about DNS failures only).
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
	// MX are the MX hosts of the domain, when the reply needed them.
	MX *resolver.MXHosts
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
	d := &res.Decision
	var o ReplyOptions
	if h.Options != nil && (d.Kind == resolver.Enforce || d.Kind == resolver.Testing || d.Failure != resolver.NoFetchFailure) {
		o = h.Options(nh.Domain)
		// An override to testing is delivered as testing, strict_testing
		// or not: the operator asked for it.
		if d.Kind == resolver.Testing && d.Source == resolver.SourceOverride {
			o.StrictTesting = false
		}
		o = h.Options(nh.Domain)
	}
	h.reply(ctx, &res, o)
	return res
}

// MXResolver knows the MX hosts of a domain; *resolver.Resolver is one. A
// Handler asks its Resolver for them when it is one too.
type MXResolver interface {
	MX(ctx context.Context, domain string) (*resolver.MXHosts, error)
}

// mx returns the MX hosts of domain from the Resolver.
func (h *Handler) mx(ctx context.Context, domain string) (*resolver.MXHosts, error) {
	m, ok := h.Resolver.(MXResolver)
	if !ok {
		return nil, fmt.Errorf("%w for %s: the resolver does not look up MX hosts", resolver.ErrMX, domain)
	}
	return m.MX(ctx, domain)
}

// memoMax bounds the replies a Handler remembers; when it is reached they
// are all forgotten and remembered anew.
const memoMax = 10000

// memoKey identifies a reply built from a policy: the policy object, which
// a cache entry keeps for its whole life, and everything else the reply
// depends on (the decision's kind and the options, packed into shape) but
// the domain, which is checked on a hit instead (hashing it would cost
// more than comparing it), and the MX hosts, remembered with the reply.
// Two words hash as plain memory.
type memoKey struct {
	policy *sts.Policy
	shape  uint64
}

// shapeOf packs a decision's kind and the reply options into a memoKey's
// shape.
func shapeOf(kind resolver.Kind, o ReplyOptions) uint64 {
	var v uint64
	for i, b := range []bool{o.StrictTesting, o.NoServername, o.TLSRPT, o.MTAMatchesMX,
		kind == resolver.Enforce, kind == resolver.Testing, kind == resolver.None} {
		if b {
			v |= 1 << i
		}
	}
	return v
}

// replied is a remembered result of Reply.
type replied struct {
	domain string
	mx     *resolver.MXHosts // the MX hosts the reply was built with, or nil
	reply  socketmap.Reply
	answer Answer
	note   string
}

// reply sets the reply of res under o: Reply, given the MX hosts when the
// reply needs them (needsMX), or TEMP when they cannot be had. Replies
// built from cached policies are remembered with the MX hosts they were
// built with, so that answering from the cache neither builds the same
// policy text nor looks for the same MX hosts at every lookup: a
// remembered reply is used as long as its MX hosts are current (see
// resolver.MXHosts.Current).
func (h *Handler) reply(ctx context.Context, res *Result, o ReplyOptions) {
	d := &res.Decision
	memo := d.Policy != nil && (d.Kind == resolver.Enforce || d.Kind == resolver.Testing || d.Kind == resolver.None)
	key := memoKey{d.Policy, shapeOf(d.Kind, o)}
	var known *replied
	if memo {
		if v, ok := h.memo.Load(key); ok && v.(*replied).domain == d.Domain {
			known = v.(*replied)
		}
	}
	if known != nil && (known.mx == nil || known.mx.Current()) {
		res.MX, res.Reply, res.Answer, res.Note = known.mx, known.reply, known.answer, known.note
		return
	}
	if needsMX(d.Kind, o) {
		mx, err := h.mx(ctx, d.Domain)
		if err != nil {
			res.Reply, res.Answer, res.Note, res.built = socketmap.Temp("MTA-STS: "+oneLine(err.Error())), AnswerMXUnknown, err.Error(), true
			return
		}
		res.MX = mx
		if known != nil && known.mx == mx {
			res.Reply, res.Answer, res.Note = known.reply, known.answer, known.note
			return
		}
	}
	res.Reply, res.Answer, res.Note = Reply(*d, res.MX, o)
	res.built = true
	if !memo {
		return
	}
	if h.memoSize.Add(1) > memoMax {
		h.memo.Clear()
		h.memoSize.Store(1)
	}
	h.memo.Store(key, &replied{d.Domain, res.MX, res.Reply, res.Answer, res.Note})
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
