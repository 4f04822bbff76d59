package tlsrptsend

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mtasts/mtasts/reportstore"
)

func TestSendViewWriteText(t *testing.T) {
	day := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	v := NewSendView(day, &DayResult{Built: true, Skipped: []Skip{{Domain: "b.example", Reason: "no rua"}}, Deliveries: Deliveries{Delivered: 1}})
	var b strings.Builder
	if err := v.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "2026-12-06: 0 reports built\n" +
		"  b.example                       skipped: no rua\n" +
		"deliveries: 1 delivered, 0 to retry, 0 given up, 0 suppressed, 0 without transport\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
	j, err := json.Marshal(NewPlanView(day, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(j), `"dry_run":true,"built":false,"reports":[],"skipped":null`) {
		t.Errorf("dry run JSON %s", j)
	}
}

func TestPendingWriteText(t *testing.T) {
	today := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	totals := []reportstore.OutcomeTotal{
		{Day: today.AddDate(0, 0, -1), Domain: "a.example", Successful: 3, Failed: 1},
		{Day: today, Domain: "a.example", Successful: 2},
		{Day: today.AddDate(0, 0, -2), Domain: "a.example", Built: true},
	}
	queued := []reportstore.Queued{{Day: today.AddDate(0, 0, -2), Domain: "a.example", URI: "mailto:r@example.net", Status: "pending",
		NextAttempt: today.Add(time.Hour), State: []byte(`{"attempts":2,"last_error":"451 later"}`)}}
	p, err := NewPending(totals, queued, today)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "2026-12-06  a.example                       3 successful, 1 failed  (to send)\n" +
		"2026-12-07  a.example                       2 successful, 0 failed  (collecting)\n" +
		"2026-12-05  a.example                       mailto:r@example.net  pending, 2 attempts, next 2026-12-07T01:00:00Z: 451 later\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
	b.Reset()
	if p, _ := NewPending(nil, nil, today); p.WriteText(&b) != nil || b.String() != "nothing to send\n" {
		t.Errorf("empty: %q", b.String())
	}
}
