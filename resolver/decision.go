package resolver

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
)

// Kind is what a sender does with mail for a next hop.
type Kind string

// The kinds of Decision.
const (
	// Enforce: deliver only over TLS validated for an MX host matching
	// Decision.MX (RFC 8461 §4, §5); treat failures as temporary.
	Enforce Kind = "enforce"
	// Testing: deliver anyway, report TLS failures (RFC 8461 §5, RFC 8460).
	Testing Kind = "testing"
	// None: the domain retired its policy; as if it had none (RFC 8461 §5).
	None Kind = "none"
	// NoPolicy: the domain has no usable MTA-STS policy (or the next hop
	// is not a domain, RFC 8461 §3.4): opportunistic TLS.
	NoPolicy Kind = "no-policy"
	// Tempfail: it cannot be known now whether the domain has a policy,
	// because DNS failed temporarily and none is cached; defer the mail.
	Tempfail Kind = "tempfail"
	// DANE: the next hop's MX hosts have DNSSEC-authenticated TLSA
	// records, so DANE (RFC 7672) governs and MTA-STS must not override
	// it (RFC 8461 §2); for Postfix, the "dane" policy.
	DANE Kind = "dane"
)

// Source says where a Decision came from.
type Source uint8

// The sources of Decision.
const (
	// SourceCache: an unexpired cached policy whose id is current (RFC
	// 8461 §5.1).
	SourceCache Source = iota + 1
	// SourceFetch: a policy fetched just now, or a failed fetch (RFC 8461
	// §3.3).
	SourceFetch
	// SourceStale: an unexpired cached policy that could not be confirmed
	// or replaced, because the TXT lookup or the fetch of a new policy
	// failed or the record is gone; it still applies (RFC 8461 §5.1).
	SourceStale
	// SourceNegative: a remembered "no record" or failed fetch (RFC 8461
	// §3.3).
	SourceNegative
	// SourceDNS: a DNS answer just received: no record, a temporary
	// failure, or DANE.
	SourceDNS
	// SourceNextHop: the name asked about, which is no domain: the next
	// hop it came from has no policy domain (RFC 8461 §3.4).
	SourceNextHop
	// SourceOverride: an operator's override (cache.Override) decided, not
	// the domain's policy. Decision.Override holds it.
	SourceOverride
	// SourceOverload: network work was needed but MaxLookupsInFlight lookups
	// were running, and no unexpired policy was cached. The decision is
	// Tempfail, so that the MTA defers the mail, as it does when DNS fails:
	// a policy that cannot be known now is never taken as no policy.
	SourceOverload
)

// sourceNames are the names of the sources, by value.
var sourceNames = [...]string{"", "cache", "fetch", "stale-cache", "negative-cache", "dns", "next-hop", "override", "overload"}

// String returns the name of s: "cache", "fetch", "stale-cache",
// "negative-cache", "dns", "next-hop", "override" or "overload".
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "source(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText returns the name of s, for JSON and logs.
func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the name of a source.
func (s *Source) UnmarshalText(b []byte) error {
	for i, name := range sourceNames {
		if i > 0 && name == string(b) {
			*s = Source(i)
			return nil
		}
	}
	return fmt.Errorf("resolver: unknown decision source %q", b)
}

// Decision is the answer of Resolver.Decide for one next hop. Its slices
// and Policy are shared with the cache and must not be modified.
type Decision struct {
	// Domain is the policy domain, normalized (lower case, A-labels, no
	// trailing dot); empty when the next hop is not a domain.
	Domain string
	// Kind is what to do.
	Kind Kind
	// MX are the policy's mx patterns usable for matching, in policy
	// order: lower case, without trailing dot, duplicates and IP
	// addresses (which never match an MX host name) left out. Set for
	// Enforce, Testing and None. Under Enforce an empty list means that
	// no MX host can be valid: the mail must be deferred.
	MX []string
	// ID is the id of the TXT record the policy was fetched under.
	ID string
	// Policy is the policy applied, for Enforce, Testing and None.
	Policy *sts.Policy
	// Text is the policy file as fetched (for TLS-RPT's policy-string).
	Text string
	// Fetched and Expires are when the policy was fetched and when it
	// stops being valid (fetched + max_age, RFC 8461 §5.1).
	Fetched, Expires time.Time
	// Source is where the decision came from.
	Source Source
	// Reason explains the decision, for people and logs.
	Reason string
	// Override is the operator's override in force for the domain, if
	// any; Source is SourceOverride when it shaped the decision.
	Override *cache.Override
	// Failure, for NoPolicy because the domain's policy could not be
	// fetched or parsed (RFC 8461 §3.3), says how; NoFetchFailure
	// otherwise. A failure remembered by another process of a shared
	// cache is FetchError.
	Failure FetchFailure
}

// FetchFailure is how fetching a domain's policy failed, as TLS-RPT
// reports it (RFC 8460 §4.3.2.3); ResultType gives its name there. It is
// a byte rather than a tlsrpt.ResultType so that a Decision, which is
// copied along every lookup, stays under the size at which Go copies
// structs with a loop (192 bytes on amd64).
type FetchFailure uint8

// The fetch failures.
const (
	NoFetchFailure FetchFailure = iota
	// FetchError: sts-policy-fetch-error, the policy could not be fetched.
	FetchError
	// PolicyInvalid: sts-policy-invalid, the policy does not parse.
	PolicyInvalid
	// WebPKIInvalid: sts-webpki-invalid, the policy host's certificate
	// failed validation.
	WebPKIInvalid
)

// fetchFailures are the result types of the fetch failures, by value.
var fetchFailures = [...]tlsrpt.ResultType{"", tlsrpt.ResultSTSPolicyFetchError, tlsrpt.ResultSTSPolicyInvalid, tlsrpt.ResultSTSWebPKIInvalid}

// ResultType returns the TLS-RPT result type of f, "" for NoFetchFailure.
func (f FetchFailure) ResultType() tlsrpt.ResultType {
	if int(f) < len(fetchFailures) {
		return fetchFailures[f]
	}
	return ""
}

// String returns the result type of f.
func (f FetchFailure) String() string { return string(f.ResultType()) }

// fetchFailureOf classifies an error of sts.FetchPolicy (see
// sts.ResultType).
func fetchFailureOf(err error) FetchFailure {
	for f, t := range fetchFailures {
		if t != "" && t == sts.ResultType(err) {
			return FetchFailure(f)
		}
	}
	return NoFetchFailure
}

// DecisionJSON is the JSON view of a Decision: {"domain", "decision",
// "mx", "id", "max_age", "fetched", "expires", "source", "reason",
// "override"}, mx always a list; id, max_age and the times only when a
// policy applies, override only when one is in force.
// Embed it in a struct to add members, as "mtasts query --json" adds the
// Postfix reply.
type DecisionJSON struct {
	Domain   string    `json:"domain"`
	Decision Kind      `json:"decision"`
	MX       []string  `json:"mx"`
	ID       string    `json:"id,omitempty"`
	MaxAge   *int64    `json:"max_age,omitempty"`
	Fetched  time.Time `json:"fetched,omitzero"`
	Expires  time.Time `json:"expires,omitzero"`
	Source   Source    `json:"source"`
	Reason   string    `json:"reason"`
	// Override is the override in force, if any (see OverrideJSON).
	Override *OverrideJSON `json:"override,omitempty"`
}

// OverrideJSON is the JSON view of a cache.Override: {"domain", "mode",
// "reason", "actor", "created", "expires"}.
type OverrideJSON struct {
	Domain  string    `json:"domain"`
	Mode    sts.Mode  `json:"mode"`
	Reason  string    `json:"reason"`
	Actor   string    `json:"actor"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// NewOverrideJSON returns the JSON view of o.
func NewOverrideJSON(o *cache.Override) *OverrideJSON {
	return &OverrideJSON{Domain: o.Domain, Mode: o.Mode, Reason: o.Reason, Actor: o.Actor, Created: o.Created, Expires: o.Expires}
}

// JSON returns the JSON view of d.
func (d Decision) JSON() DecisionJSON {
	j := DecisionJSON{Domain: d.Domain, Decision: d.Kind, MX: d.MX, ID: d.ID, Fetched: d.Fetched, Expires: d.Expires, Source: d.Source, Reason: d.Reason}
	if j.MX == nil {
		j.MX = []string{}
	}
	if d.Policy != nil {
		j.MaxAge = &d.Policy.MaxAge
	}
	if d.Override != nil {
		j.Override = NewOverrideJSON(d.Override)
	}
	return j
}

// MarshalJSON encodes the decision as its JSON view (see DecisionJSON).
func (d Decision) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.JSON())
}

// kindOf maps a policy mode to a Kind.
func kindOf(m sts.Mode) Kind {
	switch m {
	case sts.ModeEnforce:
		return Enforce
	case sts.ModeTesting:
		return Testing
	default:
		return None
	}
}

// policyDecision is the decision of applying a cached or fetched policy.
func policyDecision(e *cache.Entry, src Source, reason string) Decision {
	return Decision{
		Domain: e.Domain, Kind: kindOf(e.Policy.Mode), MX: matchPatterns(e.Policy.MX),
		ID: e.ID, Policy: e.Policy, Text: e.Text, Fetched: e.Fetched, Expires: e.Expires,
		Source: src, Reason: reason,
	}
}

// noPolicy is a NoPolicy decision.
func noPolicy(domain string, src Source, reason string) Decision {
	return Decision{Domain: domain, Kind: NoPolicy, Source: src, Reason: reason}
}

// isIP reports whether s is an IP address. It parses only what could be
// one (a domain's last label is never all digits), since a failed parse
// allocates.
func isIP(s string) bool {
	if s == "" || !strings.Contains(s, ":") && (s[len(s)-1] < '0' || s[len(s)-1] > '9') {
		return false
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// matchPatterns returns the patterns usable for MX matching (RFC 8461
// §4.1), in order: lower case, without trailing dot, without duplicates
// and without IP addresses. A list that needs no change is returned as it
// is, so that the common case allocates nothing.
func matchPatterns(mx []string) []string {
	clean := func(p string) string { return strings.ToLower(strings.TrimSuffix(p, ".")) }
	usable := func(p string) bool { return !isIP(p) }
	same := true
	for i, p := range mx {
		if clean(p) != p || !usable(p) || slices.Contains(mx[:i], p) {
			same = false
			break
		}
	}
	if same {
		return mx
	}
	out := make([]string, 0, len(mx))
	for _, p := range mx {
		if c := clean(p); usable(c) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}
