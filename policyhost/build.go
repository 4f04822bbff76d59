package policyhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/mtasts/mtasts/sts"
)

// MXResolver looks up MX records, for domains with mx "auto".
// *net.Resolver satisfies it, as does the project's DNS client.
type MXResolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
}

// mxLookupTimeout bounds one MX lookup.
const mxLookupTimeout = 30 * time.Second

// planner renders the policies of a Config and gives them ids.
type planner struct {
	state    *State
	resolver MXResolver
	logger   *slog.Logger
	// known are the live MX hosts last seen per mx auto domain.
	known map[string][]string
	// onMXChange is called when the live MX set of a domain changes.
	onMXChange func(domain string)
	// validateMX, if set, checks a new MX host of an mx auto domain in
	// mode enforce before the policy lists it (see Options.ValidateMX).
	validateMX func(ctx context.Context, host string) error
	// now is the clock of retiring hosts; nil means time.Now.
	now func() time.Time
}

// plan renders every domain's policy. For mx auto domains the live MX
// hosts are looked up when lookup is set or nothing is known of the
// domain yet; when a lookup fails the last hosts seen (also across
// restarts, from State) are used, and only a domain never seen is an
// error. Ids are assigned (and saved) only when every domain succeeded.
func (p *planner) plan(ctx context.Context, cfg *Config, lookup bool) ([]Policy, map[string][]string, error) {
	known := map[string][]string{}
	served := map[string]autoServed{}
	texts := make([][]byte, len(cfg.Domains))
	var errs []error
	for i := range cfg.Domains {
		d := &cfg.Domains[i]
		mx := d.MX
		if d.MXAuto {
			live, looked, err := p.autoMX(ctx, d.Domain, lookup)
			if err != nil {
				errs = append(errs, &DomainError{Index: i, Domain: d.Domain, Key: "mx", Err: err})
				continue
			}
			hosts, retiring := live, map[string]time.Time(nil)
			if looked {
				known[d.Domain] = live
				if d.Mode == sts.ModeEnforce {
					hosts, retiring = p.drift(ctx, d, live)
				}
			} else if st, ok := p.state.Get(d.Domain); ok {
				retiring = st.Retiring
			}
			served[d.Domain] = autoServed{hosts, retiring}
			mx = mergeMX(d.MX, hosts)
		}
		text, err := d.render(mx, false)
		if err != nil {
			errs = append(errs, withIndex(err, i))
			continue
		}
		texts[i] = text
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	ps := make([]Policy, len(cfg.Domains))
	for i, d := range cfg.Domains {
		id, changed, err := p.state.Assign(d.Domain, texts[i])
		if err != nil {
			return nil, nil, err
		}
		if a, ok := served[d.Domain]; ok {
			if err := p.state.SetAutoMX(d.Domain, a.hosts, a.retiring); err != nil {
				return nil, nil, err
			}
		}
		if changed && p.logger != nil {
			p.logger.Warn("policy changed: a new policy id must be published",
				"domain", d.Domain, "id", id, "record", "_mta-sts."+d.Domain+". TXT \"v=STSv1; id="+id+";\"")
		}
		ps[i] = Policy{Domain: d.Domain, ID: id, Text: texts[i]}
	}
	return ps, known, nil
}

// autoServed are the hosts an mx auto domain's policy lists for its live
// MX records, and those kept after leaving DNS.
type autoServed struct {
	hosts    []string
	retiring map[string]time.Time
}

// autoMX returns the live MX hosts of domain when lookup is set or
// nothing is known of it (looked is then true), else, or when the lookup
// fails, the hosts its policy lists (from State).
func (p *planner) autoMX(ctx context.Context, domain string, lookup bool) (hosts []string, looked bool, err error) {
	prev, seen := p.known[domain]
	st, inState := p.state.Get(domain)
	inState = inState && len(st.AutoMX) > 0
	if !seen && inState {
		prev, seen = st.AutoMX, true
	}
	if seen && !lookup {
		if inState {
			return st.AutoMX, false, nil
		}
		return prev, false, nil
	}
	lctx, cancel := context.WithTimeout(ctx, mxLookupTimeout)
	hosts, err = lookupMXHosts(lctx, p.resolver, domain)
	cancel()
	if err != nil {
		if !inState {
			return nil, false, fmt.Errorf("auto: %w", err)
		}
		if p.logger != nil {
			p.logger.Warn("MX lookup failed; keeping the MX hosts last served", "domain", domain, "mx", st.AutoMX, "error", err)
		}
		return st.AutoMX, false, nil
	}
	if seen && !slices.Equal(prev, hosts) {
		if p.logger != nil {
			p.logger.Warn("live MX set changed; the policy follows it",
				"domain", domain, "added", difference(hosts, prev), "removed", difference(prev, hosts))
		}
		if p.onMXChange != nil {
			p.onMXChange(domain)
		}
	}
	return hosts, true, nil
}

// drift returns the hosts the enforce policy of d lists for its live MX
// hosts, and those it keeps after they left DNS, so that a change of MX
// records never cuts a sender off (RFC 8461 §8.3 asks the same care for
// policy changes):
//   - a host new in DNS joins the policy only once validateMX accepts it
//     (STARTTLS and a certificate valid for its name, §4.2): listing a
//     host that fails validation would make senders refuse it anyway;
//   - a host gone from DNS stays listed for the policy's max_age, the
//     longest a sender may hold the policy and the MX records it saw.
//
// The first policy of a domain lists its live hosts as they are.
func (p *planner) drift(ctx context.Context, d *DomainConfig, live []string) ([]string, map[string]time.Time) {
	st, ok := p.state.Get(d.Domain)
	if !ok || len(st.AutoMX) == 0 {
		return live, nil
	}
	now := time.Now
	if p.now != nil {
		now = p.now
	}
	var hosts []string
	retiring := map[string]time.Time{}
	for _, h := range live {
		if !slices.Contains(st.AutoMX, h) && p.validateMX != nil {
			if err := p.validateMX(ctx, h); err != nil {
				if p.logger != nil {
					p.logger.Warn("new MX host left out of the enforce policy until it validates",
						"domain", d.Domain, "mx", h, "error", err)
				}
				continue
			}
		}
		hosts = append(hosts, h)
	}
	for _, h := range st.AutoMX {
		if slices.Contains(live, h) {
			continue
		}
		until, kept := st.Retiring[h]
		if !kept {
			until = now().UTC().Add(time.Duration(d.MaxAge) * time.Second).Truncate(time.Second)
			if p.logger != nil {
				p.logger.Warn("MX host gone from DNS stays in the enforce policy for its max_age",
					"domain", d.Domain, "mx", h, "until", until)
			}
		}
		if now().Before(until) {
			hosts, retiring[h] = append(hosts, h), until
		}
	}
	if len(hosts) == 0 {
		// Nothing validated and nothing left to keep: list the live
		// hosts rather than a policy no MX can satisfy.
		if p.logger != nil {
			p.logger.Warn("no MX host validates; the enforce policy lists the live ones", "domain", d.Domain, "mx", live)
		}
		return live, nil
	}
	slices.Sort(hosts)
	if len(retiring) == 0 {
		retiring = nil
	}
	return hosts, retiring
}

// lookupMXHosts returns the sorted host names of domain's MX records,
// without trailing dot and without the null MX of RFC 7505.
func lookupMXHosts(ctx context.Context, r MXResolver, domain string) ([]string, error) {
	if r == nil {
		r = net.DefaultResolver
	}
	mxs, err := r.LookupMX(ctx, domain+".")
	if err != nil {
		return nil, fmt.Errorf("MX lookup: %w", err)
	}
	var hosts []string
	for _, mx := range mxs {
		h := strings.ToLower(strings.TrimSuffix(mx.Host, "."))
		if h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return nil, errors.New("no MX host (a null MX, RFC 7505, means the domain receives no mail)")
	}
	slices.Sort(hosts)
	return hosts, nil
}

// mergeMX returns the static patterns followed by the live hosts that
// none of them already matches (RFC 8461 §4.1).
func mergeMX(static, live []string) []string {
	out := slices.Clone(static)
	for _, h := range live {
		covered := false
		for _, p := range static {
			if sts.MatchPattern(p, h) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, h)
		}
	}
	return out
}

// difference returns the elements of a not in b.
func difference(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// Policies renders the policy of every domain of cfg (which must be
// valid) and returns it with its id, assigning and saving new ids in state
// as the server does; live MX hosts are looked up with r for mx auto
// domains. It is what "mtasts policy records" uses to know the ids.
func Policies(ctx context.Context, cfg *Config, state *State, r MXResolver) ([]Policy, error) {
	p := &planner{state: state, resolver: r, known: map[string][]string{}}
	ps, _, err := p.plan(ctx, cfg, true)
	return ps, err
}
