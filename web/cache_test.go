package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

func TestResultCache(t *testing.T) {
	clk := testclock.New(testNow)
	c := newResultCache(clk.Now)
	v1, v2 := reportstore.Version{LastID: 1, Count: 1}, reportstore.Version{LastID: 2, Count: 2}
	var calls atomic.Int32
	query := func(result string) func() (string, error) {
		return func() (string, error) { calls.Add(1); return result, nil }
	}
	get := func(v reportstore.Version, key, result string) string {
		t.Helper()
		got, err := cached(c, v, key, query(result))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if get(v1, "a", "first") != "first" || get(v1, "a", "second") != "first" || calls.Load() != 1 {
		t.Errorf("the result was not kept: %d queries", calls.Load())
	}
	if get(v2, "a", "new") != "new" {
		t.Error("a new version of the store kept the old result")
	}
	clk.Advance(cacheMaxAge)
	if get(v2, "a", "aged") != "aged" {
		t.Error("a result older than cacheMaxAge was kept")
	}
	for i := range cacheEntries + 1 {
		get(v2, fmt.Sprint("k", i), "v")
	}
	if _, ok := c.lookup(v2, "k0"); ok || len(c.entries) != cacheEntries {
		t.Errorf("%d entries kept, the oldest among them: %v", len(c.entries), ok)
	}

	// A failed query is not kept.
	boom := errors.New("boom")
	if _, err := cached(c, v2, "e", func() (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("error = %v", err)
	}
	if n, err := cached(c, v2, "e", func() (int, error) { return 7, nil }); n != 7 || err != nil {
		t.Errorf("after an error: %d, %v", n, err)
	}

	// Concurrent requests for one result share one query.
	calls.Store(0)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, _ = cached(c, v1, "slow", func() (string, error) { calls.Add(1); <-release; return "x", nil })
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("8 concurrent requests ran %d queries", n)
	}
}

// TestPagesFollowTheStore checks that a page shows a report stored after
// the page was last shown.
func TestPagesFollowTheStore(t *testing.T) {
	s := filledStore(t, 100)
	srv := newServer(t, s, Options{})
	c := newClient(t, srv)
	c.mustLogin()
	for _, p := range []string{"", "domains/late.example"} {
		if r := c.get(testBase + p); strings.Contains(r.body, "Late Sender") {
			t.Fatalf("%q shows the report before it arrived", p)
		}
	}
	day := testNow.AddDate(0, 0, -1).Truncate(24 * time.Hour)
	rep := &tlsrpt.Report{OrganizationName: "Late Sender", ReportID: "late-1", DateRange: tlsrpt.DateRange{Start: day, End: day.Add(24*time.Hour - time.Second)},
		Policies: []tlsrpt.PolicyResult{{Policy: tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: "late.example"}, Summary: tlsrpt.Summary{Successful: 3, Failed: 1},
			FailureDetails: []tlsrpt.FailureDetail{{ResultType: tlsrpt.ResultSTARTTLSNotSupported, FailedSessionCount: 1}}}}}
	if _, err := s.Add(context.Background(), &reportstore.Submission{Report: rep, Raw: []byte("{}"), Source: reportstore.SourceFile}); err != nil {
		t.Fatal(err)
	}
	r := c.get(testBase)
	wantContains(t, "overview after a new report", r.body, ">late.example</a>")
	r = c.get(testBase + "domains/late.example")
	wantStatus(t, "new domain", r, http.StatusOK)
	wantContains(t, "new domain", r.body, "Late Sender", "Your MX did not offer STARTTLS")
}
