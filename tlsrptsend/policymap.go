package tlsrptsend

import (
	"time"

	"github.com/mtasts/mtasts/tlsrpt"
)

// PolicyMap is a PolicyLookup of fixed policies by policy domain
// (lower-case, without trailing dot), for a static TLS policy table.
type PolicyMap map[string]tlsrpt.Policy

// PolicyAt returns the policy of domain, whatever the time.
func (m PolicyMap) PolicyAt(domain string, _ time.Time) (tlsrpt.Policy, bool) {
	p, ok := m[normalDomain(domain)]
	return p, ok
}
