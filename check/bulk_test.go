package check

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

func testClock() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }

func hours(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }

// TestIsPublic checks the addresses --public-only refuses.
func TestIsPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"192.0.2.1": true, "8.8.8.8": true, "2001:4860:4860::8888": true,
		"127.0.0.1": false, "127.1.0.5": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.1.1": false, "100.64.0.1": false, "0.0.0.0": false, "::1": false, "fe80::1": false,
		"fd00::1": false, "ff02::1": false, "::ffff:10.0.0.1": false, "::ffff:192.0.2.1": true, "224.0.0.1": false,
	} {
		if got := isPublic(netip.MustParseAddr(addr)); got != want {
			t.Errorf("isPublic(%s) = %v", addr, got)
		}
	}
}

// TestIPLimiter checks that at most per connections to one address run
// at once, that waiting ends with the context, and that idle addresses
// take no memory.
func TestIPLimiter(t *testing.T) {
	l := newIPLimiter(2)
	ip := netip.MustParseAddr("192.0.2.1")
	ctx := context.Background()
	r1, _ := l.acquire(ctx, ip)
	r2, _ := l.acquire(ctx, ip)
	if _, err := l.acquire(ctx, netip.MustParseAddr("192.0.2.2")); err != nil {
		t.Fatalf("another address must not wait: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(short, ip); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third connection: %v, want to wait until the deadline", err)
	}
	got := make(chan func())
	go func() {
		r, _ := l.acquire(ctx, ip)
		got <- r
	}()
	r1()
	r1() // releasing twice is harmless
	r3 := <-got
	r2()
	r3()
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.slots[ip]; ok {
		t.Errorf("slot of an idle address kept")
	}
}

// TestHostShared checks that domains sharing an MX host cause one probe of
// it, and that the host's findings appear in each domain's result.
func TestHostShared(t *testing.T) {
	w := testworld.New(t)
	var accepts atomic.Int32
	serve(t, w.Listen("mx.provider.test", 25), func(c net.Conn, r *bufio.Reader) {
		accepts.Add(1)
		smtpRefusing(c, r)
	})
	var domains []string
	for i := range 5 {
		d := fmt.Sprintf("customer%d.test", i)
		w.DNS.Add(d + ". MX 10 mx.provider.test.")
		domains = append(domains, d)
	}
	c, err := New(Options{Resolver: w.Resolver(), RootCAs: w.RootCAs(), Dial: w.DialContext, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = c.CheckAll(context.Background(), slices.Values(domains), BulkOptions{Concurrency: 5, Ordered: true}, func(it Item) error {
		if it.Err != nil || !it.Result.Has(mxSMTPError) {
			t.Errorf("%s: %v %v", it.Domain, it.Err, it.Result)
		}
		got = append(got, it.Domain)
		return nil
	})
	if err != nil || !slices.Equal(got, domains) {
		t.Errorf("CheckAll: %v, %v", got, err)
	}
	if n := accepts.Load(); n != 1 {
		t.Errorf("the shared MX was probed %d times, want once", n)
	}
}

// TestCheckAllStops checks that an error of emit stops CheckAll, and that
// entries that are not domain names are items with an error.
func TestCheckAllStops(t *testing.T) {
	w := testworld.New(t)
	c, err := New(Options{Resolver: w.Resolver(), Dial: w.DialContext, NoMX: true})
	if err != nil {
		t.Fatal(err)
	}
	domains := []string{"a.test", "not a domain", "b.test", "c.test", "d.test", "e.test", "f.test"}
	stop := errors.New("stop")
	var seen []Item
	err = c.CheckAll(context.Background(), slices.Values(domains), BulkOptions{Concurrency: 2, Ordered: true}, func(it Item) error {
		seen = append(seen, it)
		if len(seen) == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || len(seen) != 3 {
		t.Fatalf("CheckAll: %v after %d items, want stop after 3", err, len(seen))
	}
	if seen[1].Index != 1 || seen[1].Err == nil || seen[1].Result != nil {
		t.Errorf("item %+v: want an error for a bad domain", seen[1])
	}
	if _, err := c.Check(context.Background(), "exa mple.test"); err == nil {
		t.Errorf("Check of a bad domain: no error")
	}
}

// TestCheckResolver checks that a resolver that does not answer is told
// apart from one that answers anything.
func TestCheckResolver(t *testing.T) {
	w := testworld.New(t)
	ok, _ := New(Options{Resolver: w.Resolver()})
	if err := ok.CheckResolver(context.Background()); err != nil {
		t.Errorf("world resolver: %v", err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // never answers
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	silent, _ := New(Options{Resolver: pc.LocalAddr().String(), Timeout: 50 * time.Millisecond})
	if err := silent.CheckResolver(context.Background()); err == nil {
		t.Errorf("silent resolver: no error")
	}
}
