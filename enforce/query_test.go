package enforce

import (
	"strings"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/resolver"
)

// Query answers each kind of lookup key as the service does, with the
// decision behind the reply.
func TestQuery(t *testing.T) {
	w := daemonWorld(t)
	cfg, err := worldConfig(w, "", func(c *Config) { c.Timeout = 5e9 })
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key     string
		kind    resolver.Kind
		answer  Answer
		postfix string
		mx      []string
	}{
		{"enforce.test", resolver.Enforce, "enforce", "OK secure match=mx1.enforce.test:a.mail.enforce.test servername=hostname", []string{"mx1.enforce.test", "*.mail.enforce.test"}},
		{"testing.test", resolver.Testing, "testing", "NOTFOUND ", []string{"mx.testing.test"}},
		{"none.test", resolver.None, "none", "NOTFOUND ", nil},
		{"norecord.test", resolver.NoPolicy, "no-policy", "NOTFOUND ", nil},
		{"servfail.test", resolver.Tempfail, "tempfail", "TEMP MTA-STS policy of servfail.test unknown for now: ", nil},
		{".enforce.test", resolver.NoPolicy, AnswerNoDomain, "NOTFOUND ", nil},
		{"iponly.test", resolver.Enforce, AnswerUnusable, "TEMP MTA-STS: no usable mx pattern", nil},
	} {
		t.Run(tc.key, func(t *testing.T) {
			res, err := Query(t.Context(), cfg, Options{Dial: w.DialContext}, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			d := res.Decision
			if d.Kind != tc.kind || res.Answer != tc.answer || !strings.HasPrefix(res.Reply.String(), tc.postfix) ||
				strings.Join(d.MX, " ") != strings.Join(tc.mx, " ") || d.Reason == "" || d.Source == 0 {
				t.Errorf("%+v; want %s (%s), mx %q, postfix %q", res, tc.kind, tc.answer, tc.mx, tc.postfix)
			}
		})
	}
}

// The zone table decides both what a DNS failure means (asked by the
// resolver) and strict testing (asked by the handler).
func TestQueryZones(t *testing.T) {
	w := daemonWorld(t)
	path := testenv.WriteConfig(t, "[daemon.zones.\"servfail.test\"]\non_dns_failure = \"no-policy\"\n[daemon.zones.\"test\"]\nstrict_testing = true\n")
	cfg, err := worldConfig(w, path)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"servfail.test": "NOTFOUND ",
		"testing.test":  "OK secure match=mx.testing.test servername=hostname",
	} {
		res, err := Query(t.Context(), cfg, Options{Dial: w.DialContext}, key)
		if err != nil || res.Reply.String() != want {
			t.Errorf("%s: %q, %v; want %q", key, res.Reply, err, want)
		}
	}
}

// The text and JSON of a query name the MX hosts the reply needed and
// those the policy covers.
func TestQueryShowsMXHosts(t *testing.T) {
	w := daemonWorld(t)
	cfg, err := worldConfig(w, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Query(t.Context(), cfg, Options{Dial: w.DialContext}, "enforce.test")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := res.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	j := res.JSON()
	if !strings.Contains(b.String(), "mx hosts  ") || !strings.Contains(b.String(), "covered by the policy: mx1.enforce.test") ||
		len(j.MXHosts) == 0 || len(j.CoveredMXHosts) == 0 || j.CoveredMXHosts[0] != "mx1.enforce.test" {
		t.Errorf("query text:\n%s\nJSON %+v", b.String(), j)
	}
}
