package deliver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"

	"github.com/mtasts/mtasts/internal/dnsx"
)

// lookupMX returns the MX host names of domain in the order to try them,
// without trailing dots: by preference, lowest first, and in random order
// among hosts of equal preference (RFC 5321 §5.1), shuffled with
// s.Shuffle. A domain without MX records is its own implicit MX (RFC 5321
// §5.1); a null MX (RFC 7505 §3) and a domain that does not exist are
// permanent failures, a DNS failure a temporary one.
func (s *Sender) lookupMX(ctx context.Context, domain string) (hosts []string, implicit bool, err error) {
	mxs, _, err := s.DNS.MX(ctx, domain)
	switch {
	case errors.Is(err, dnsx.ErrNXDomain):
		return nil, false, failure(true, fmt.Errorf("domain %s does not exist: %w", domain, err))
	case errors.Is(err, dnsx.ErrNoData):
		return []string{domain}, true, nil
	case err != nil:
		return nil, false, failure(false, fmt.Errorf("MX lookup for %s: %w", domain, err))
	}
	shuffle := s.Shuffle
	if shuffle == nil {
		shuffle = rand.Shuffle
	}
	hosts = orderMX(mxs, shuffle)
	if len(hosts) == 0 {
		return nil, false, failure(true, fmt.Errorf("domain %s accepts no mail (null MX, RFC 7505)", domain))
	}
	return hosts, false, nil
}

// orderMX returns the host names of mxs, without trailing dots, empty
// names (a null MX) and duplicates, grouped by ascending preference and
// permuted by shuffle within each group (RFC 5321 §5.1).
func orderMX(mxs []*net.MX, shuffle func(n int, swap func(i, j int))) []string {
	mxs = slices.Clone(mxs)
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return cmp.Compare(a.Pref, b.Pref) })
	var hosts []string
	for i := 0; i < len(mxs); {
		start := len(hosts)
		for pref := mxs[i].Pref; i < len(mxs) && mxs[i].Pref == pref; i++ {
			if h := strings.TrimSuffix(strings.ToLower(mxs[i].Host), "."); h != "" && !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
		same := hosts[start:]
		shuffle(len(same), func(i, j int) { same[i], same[j] = same[j], same[i] })
	}
	return hosts
}
