package ingest

import (
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// Who the client is, behind trusted proxies or not.
func TestClientOf(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, c := range []struct {
		remote, xff []string
		want, key   string
	}{
		{[]string{"192.0.2.1:1234"}, nil, "192.0.2.1", "192.0.2.1"},
		// An untrusted peer's X-Forwarded-For is not believed.
		{[]string{"192.0.2.1:1234"}, []string{"198.51.100.7"}, "192.0.2.1", "192.0.2.1"},
		{[]string{"10.1.2.3:443"}, []string{"198.51.100.7"}, "198.51.100.7", "198.51.100.7"},
		// What the client wrote itself is left of the proxies' hops.
		{[]string{"10.1.2.3:443"}, []string{"203.0.113.9, 198.51.100.7, 10.9.9.9"}, "198.51.100.7", "198.51.100.7"},
		{[]string{"10.1.2.3:443"}, []string{"203.0.113.9", "198.51.100.7"}, "198.51.100.7", "198.51.100.7"},
		// A garbled hop: nothing left of it is believed, the proxy is the client.
		{[]string{"10.1.2.3:443"}, []string{"198.51.100.7, garbage"}, "10.1.2.3", "10.1.2.3"},
		// IPv6 clients are counted by /64.
		{[]string{"[2001:db8:1:2:3:4:5:6]:443"}, nil, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{[]string{"[::1]:443"}, []string{"2001:db8::7"}, "2001:db8::7", "2001:db8::/64"},
		{[]string{"[::ffff:192.0.2.1]:443"}, nil, "192.0.2.1", "192.0.2.1"},
		{[]string{"pipe"}, nil, "pipe", "pipe"},
	} {
		r := &http.Request{RemoteAddr: c.remote[0], Header: http.Header{}}
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		got := clientOf(r, trusted)
		if got.String() != c.want || got.key() != c.key {
			t.Errorf("clientOf(%s, %q) = %s (key %s), want %s (key %s)", c.remote[0], c.xff, got, got.key(), c.want, c.key)
		}
	}
}

// A burst of concurrent requests of one client cannot get more bodies
// rejected than its bucket holds: each takes its token before its body
// is read; reports give theirs back.
func TestClientLimiterBurst(t *testing.T) {
	now := time.Unix(1e9, 0)
	cl := newClientLimiter(1000, 5, time.Minute, func() time.Time { return now })
	var mu sync.Mutex
	var admitted []func(bool)
	var wg sync.WaitGroup
	for range 300 {
		wg.Go(func() {
			done, err := cl.admit("192.0.2.1")
			if err == nil {
				mu.Lock()
				admitted = append(admitted, done)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(admitted) != 5 {
		t.Fatalf("%d of 300 concurrent requests admitted, want the burst of 5", len(admitted))
	}
	admitted[0](false) // a report: its token comes back
	for _, done := range admitted[1:] {
		done(true)
	}
	if _, err := cl.admit("192.0.2.1"); err != nil {
		t.Errorf("after a report, admit = %v, want a token", err)
	}
	_, err := cl.admit("192.0.2.1")
	le, ok := err.(*limitError)
	if !ok || le.reason != "reject_rate" || le.retryAfter != time.Minute {
		t.Errorf("with the bucket empty, admit = %v, want reject_rate for a minute", err)
	}
	if _, err := cl.admit("192.0.2.2"); err != nil {
		t.Errorf("another client: %v", err)
	}
	now = now.Add(time.Minute)
	if _, err := cl.admit("192.0.2.1"); err != nil {
		t.Errorf("a minute later: %v, want a new token", err)
	}

	busy := newClientLimiter(2, 100, time.Minute, time.Now)
	d1, _ := busy.admit("c")
	busy.admit("c")
	if _, err := busy.admit("c"); err == nil || err.(*limitError).reason != "client_busy" {
		t.Errorf("a third request at once = %v, want client_busy", err)
	}
	d1(false)
	if _, err := busy.admit("c"); err != nil {
		t.Errorf("after one ended: %v", err)
	}
}

// The memory budget refuses rather than waits, says when a request can
// never fit, and keeps its high-water mark.
func TestMemoryBudget(t *testing.T) {
	b := newMemoryBudget(100)
	r1, r2 := &reservation{b: b}, &reservation{b: b}
	if err := r1.acquire(60); err != nil {
		t.Fatal(err)
	}
	if err := r2.acquire(50); err != errBusy {
		t.Errorf("over the budget: %v, want errBusy", err)
	}
	if err := r2.acquire(101); err != errTooLarge {
		t.Errorf("more than the budget: %v, want errTooLarge", err)
	}
	r1.release()
	if err := r2.acquire(90); err != nil {
		t.Errorf("after release: %v", err)
	}
	r2.release()
	if b.used.Load() != 0 || b.peak.Load() != 90 {
		t.Errorf("used %d, peak %d; want 0 and 90", b.used.Load(), b.peak.Load())
	}
}

// What the quarantine keeps whole and what it keeps a prefix of.
func TestLooksLikeReport(t *testing.T) {
	report := readFile(t, "reports/google.com!example.com!1795132800!1795219199!001.json")
	for _, c := range []struct {
		name string
		in   Input
		want bool
	}{
		{"report with a syntax error", Input{Data: append(report[:len(report)-2:len(report)-2], ","...)}, true},
		{"gzipped, broken", Input{Data: gzipBytes([]byte(`{"organization-name": "x", "policies": [}`))}, true},
		{"byte order mark", Input{Data: []byte("\ufeff  {\"report-id\": 1}")}, true},
		{"JSON without report members", Input{Data: []byte(`{"hello": "world"}`)}, false},
		{"JSON array", Input{Data: []byte(`["report-id"]`)}, false},
		{"HTML", Input{Data: []byte(`<html>"report-id"</html>`)}, false},
		{"random bytes, gzip magic", Input{Data: []byte{0x1f, 0x8b, 1, 2, 3}}, false},
		{"gzipped garbage", Input{Data: gzipBytes(make([]byte, 1<<20))}, false},
		{"report mail", Input{Kind: KindMail, Data: []byte("Content-Type: multipart/report; report-type=tlsrpt\r\n\r\n")}, true},
		{"other mail", Input{Kind: KindMail, Data: []byte("Subject: hello\r\n\r\nbuy now")}, false},
	} {
		if got := looksLikeReport(c.in); got != c.want {
			t.Errorf("%s: looksLikeReport = %v, want %v", c.name, got, c.want)
		}
	}
}
