package check

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// A bulk check against a resolver that drops the queries it has no room
// for: the timeouts are ours, not the domains'. CheckAll retries them and
// lowers its concurrency, and a timeout it could not get past is
// "resolver-timeout", never "tempfail"; a SERVFAIL answer is the domain's
// and stays "tempfail", without retries.
func TestCheckAllResolverOverload(t *testing.T) {
	w := testworld.New(t)
	var domains []string
	for i := range 40 {
		d := fmt.Sprintf("d%d.test", i)
		publish(t, w, d, site{})
		domains = append(domains, d)
	}
	publish(t, w, "servfail.test", site{})
	w.DNS.SetRcode("_mta-sts.servfail.test", dns.TypeTXT, dns.RcodeServerFailure)
	domains = append(domains, "servfail.test")
	// Room for a few domains' queries at once: the 4 lookups that start
	// each check, and those of its hosts.
	w.DNS.SetCapacity(12, 20*time.Millisecond)

	c, err := New(Options{Resolver: w.Resolver(), RootCAs: w.RootCAs(), Dial: w.DialContext, NoMX: true, Timeout: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var limits []int
	o := BulkOptions{Concurrency: 32, RetryBackoff: 50 * time.Millisecond, OnConcurrency: func(n int) {
		mu.Lock()
		defer mu.Unlock()
		limits = append(limits, n)
	}}
	policies := map[string]int{}
	err = c.CheckAll(context.Background(), slices.Values(domains), o, func(it Item) error {
		if it.Err != nil {
			t.Errorf("%s: %v", it.Domain, it.Err)
			return nil
		}
		v := it.Result.Verdict
		policies[v.Policy]++
		switch {
		case it.Domain == "servfail.test":
			if v.Policy != PolicyTempfail || !it.Result.Has(stsRecordDNSError) {
				t.Errorf("%s: policy %s, findings %v; want tempfail and %s", it.Domain, v.Policy, it.Result.Findings, stsRecordDNSError)
			}
		case v.Policy == PolicyTempfail:
			t.Errorf("%s: tempfail from timeouts of our resolver: %v", it.Domain, it.Result.Findings)
		case v.Policy == PolicyResolverTimeout && !it.Result.ResolverTimedOut():
			t.Errorf("%s: policy %s without the finding %s", it.Domain, v.Policy, resolverTimeout)
		case v.Policy != PolicyEnforce && v.Policy != PolicyResolverTimeout:
			t.Errorf("%s: policy %s, want enforce: %v", it.Domain, v.Policy, it.Result.Findings)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if w.DNS.Overflow() == 0 {
		t.Fatal("the resolver dropped no query: the test did not load it")
	}
	t.Logf("resolver dropped %d queries; policies %v; concurrency %v", w.DNS.Overflow(), policies, limits)
	if len(limits) == 0 || slices.Min(limits) >= o.Concurrency {
		t.Errorf("concurrency changes %v: CheckAll did not lower it while the resolver dropped queries", limits)
	}
	// SERVFAIL is an answer: no retry beyond the client's own attempts.
	if n := w.DNS.Queries("_mta-sts.servfail.test", dns.TypeTXT); n > dnsx.DefaultAttempts {
		t.Errorf("_mta-sts.servfail.test asked %d times, want at most %d", n, dnsx.DefaultAttempts)
	}
}

// The limiter halves its limit on a timeout, once for checks that ran
// together, and raises it by one after a run of limit clean checks.
func TestLimiter(t *testing.T) {
	var changes []int
	l := newLimiter(8, func(n int) { changes = append(changes, n) })
	ctx := context.Background()
	for range 8 {
		if err := l.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := l.acquire(short); err == nil {
		t.Fatal("a ninth check started under a limit of 8")
	}
	// All 8 time out together: one decrease.
	for range 8 {
		l.release(true)
	}
	// A timeout of a check started after it: another.
	if err := l.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	l.release(true)
	// Clean checks: 2 at limit 2 raise it to 3, 3 more to 4.
	for range 5 {
		if err := l.acquire(ctx); err != nil {
			t.Fatal(err)
		}
		l.release(false)
	}
	if want := []int{4, 2, 3, 4}; !slices.Equal(changes, want) {
		t.Errorf("limits %v, want %v", changes, want)
	}
}
