package tlsrptsend

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// TestCollectPostfixLog reads a real Postfix 3.7 log from a file and from
// a reader: the same sessions are stored, and the counts say so.
func TestCollectPostfixLog(t *testing.T) {
	const log = "testdata/postfix/postfix-3.7-real.log"
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var sessions []int64
	for _, o := range []CollectOptions{{Path: log}, {Reader: bytes.NewReader(data)}} {
		o.Store, o.Policies, o.Now, o.Flush = openStore(t), testPolicies{}, testNow, time.Minute
		st, err := CollectPostfixLog(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		totals, err := o.Store.OutcomeTotals(t.Context(), time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var stored int64
		for _, tot := range totals {
			stored += tot.Successful + tot.Failed
		}
		if st.Lines != int64(bytes.Count(data, []byte("\n"))) || st.Sessions == 0 || stored != st.Sessions {
			t.Errorf("%+v: stats %+v, %d sessions stored", o, st, stored)
		}
		sessions = append(sessions, stored)
	}
	if sessions[0] != sessions[1] {
		t.Errorf("file and reader: %v sessions", sessions)
	}
	o := CollectOptions{Path: "testdata/postfix/nosuch.log", Store: openStore(t), Policies: testPolicies{}}
	if _, err := CollectPostfixLog(t.Context(), o); err == nil {
		t.Errorf("a missing log: no error")
	}
}
