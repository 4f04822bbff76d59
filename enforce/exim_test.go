package enforce

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/testenv/testexim"
	"github.com/mtasts/mtasts/internal/testenv/testpostfix"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// eximDocBlocks returns the Exim configuration blocks of docs/exim.md by
// section ("main", "routers", "transports"): each fenced block that
// follows a "<!-- exim: SECTION -->" line. The tests run Exim with
// exactly these, so that the documentation cannot drift from what works.
func eximDocBlocks(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "exim.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?m)^<!-- exim: (\\w+) -->\n```\n((?s:.*?))^```$")
	blocks := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		blocks[m[1]] += m[2]
	}
	for _, s := range []string{"main", "routers", "transports"} {
		if blocks[s] == "" {
			t.Fatalf("docs/exim.md has no %q block", s)
		}
	}
	return blocks
}

// eximCase is one recipient domain of TestDaemonWithExim: its MTA-STS
// policy mode ("" for none), its MX hosts, and what Exim must do.
type eximCase struct {
	domain string
	mode   string   // policy mode; "" publishes no policy
	mx     []string // policy mx patterns; default "mx.<domain>"
	hosts  []eximMX // MX records, in preference order; default mx.<domain>, valid
	// delivered names the host that must receive the message; "" means
	// that the message must be deferred and stay queued, received by no
	// host.
	delivered string
	// log holds what the Exim log line of the outcome must contain.
	log []string
}

// eximMX is an MX host of an eximCase and the server behind it.
type eximMX struct {
	name string
	opts func(w *testworld.World) testworld.SMTPOptions
}

// Real Exim (Debian's exim4-daemon-light) with exactly the configuration
// of docs/exim.md, asking the daemon over its exim_listen socket, in a
// network namespace whose DNS and port 25 are the test world's (see
// package testexim). Each recipient domain shows one rule of RFC 8461:
// enforce delivers only over verified TLS to covered MX hosts and defers
// otherwise (§4, §5); testing and no policy deliver as before; a policy
// unknown for now defers, and so does a daemon that does not answer.
func TestDaemonWithExim(t *testing.T) {
	testexim.Require(t)
	w := testworld.New(t)
	valid := func(*testworld.World) testworld.SMTPOptions { return testworld.SMTPOptions{} }
	cases := []eximCase{
		{domain: "enforce-good.test", mode: "enforce", delivered: "mx.enforce-good.test",
			log: []string{"T=mtasts_smtp", "CV=yes"}},
		{domain: "enforce-expired.test", mode: "enforce", hosts: []eximMX{{"mx.enforce-expired.test", func(w *testworld.World) testworld.SMTPOptions {
			return testworld.SMTPOptions{Cert: w.CA.Expired(t, "mx.enforce-expired.test")}
		}}}, log: []string{"T=mtasts_smtp", "defer"}},
		{domain: "enforce-wrongname.test", mode: "enforce", hosts: []eximMX{{"mx.enforce-wrongname.test", func(w *testworld.World) testworld.SMTPOptions {
			return testworld.SMTPOptions{Cert: w.CA.Valid(t, "other.test")}
		}}}, log: []string{"T=mtasts_smtp", "defer"}},
		{domain: "enforce-selfsigned.test", mode: "enforce", hosts: []eximMX{{"mx.enforce-selfsigned.test", func(*testworld.World) testworld.SMTPOptions {
			return testworld.SMTPOptions{Cert: testworld.SelfSigned(t, "mx.enforce-selfsigned.test")}
		}}}, log: []string{"T=mtasts_smtp", "defer"}},
		{domain: "enforce-plain.test", mode: "enforce", hosts: []eximMX{{"mx.enforce-plain.test", func(*testworld.World) testworld.SMTPOptions {
			return testworld.SMTPOptions{NoSTARTTLS: true}
		}}}, log: []string{"T=mtasts_smtp", "defer"}},
		// The only MX host is not in the policy: never connected to.
		{domain: "enforce-uncovered.test", mode: "enforce", mx: []string{"mx.elsewhere.test"},
			log: []string{"R=dnslookup", "defer"}},
		// The preferred MX host is not covered ("*." is one label,
		// RFC 8461 §4.1): the covered one gets the message.
		{domain: "enforce-wild.test", mode: "enforce", mx: []string{"*.enforce-wild.test"},
			hosts:     []eximMX{{"deep.mx.enforce-wild.test", valid}, {"mx.enforce-wild.test", valid}},
			delivered: "mx.enforce-wild.test", log: []string{"T=mtasts_smtp", "H=mx.enforce-wild.test", "CV=yes"}},
		{domain: "testing-bad.test", mode: "testing", hosts: []eximMX{{"mx.testing-bad.test", func(*testworld.World) testworld.SMTPOptions {
			return testworld.SMTPOptions{Cert: testworld.SelfSigned(t, "mx.testing-bad.test")}
		}}}, delivered: "mx.testing-bad.test", log: []string{"T=remote_smtp"}},
		{domain: "nopolicy-plain.test", hosts: []eximMX{{"mx.nopolicy-plain.test", func(*testworld.World) testworld.SMTPOptions {
			return testworld.SMTPOptions{NoSTARTTLS: true}
		}}}, delivered: "mx.nopolicy-plain.test", log: []string{"T=remote_smtp"}},
		// DNS fails for the policy record and nothing is cached: TEMP.
		{domain: "tempfail.test", log: []string{"R=mtasts", "defer", "unknown for now"}},
	}

	servers := map[string]*testworld.SMTPServer{}
	ports := map[string][]int{}
	for _, c := range cases {
		if c.hosts == nil {
			c.hosts = []eximMX{{"mx." + c.domain, valid}}
		}
		for i, h := range c.hosts {
			w.DNS.Add(c.domain + ". MX " + []string{"10", "20"}[i] + " " + h.name + ".")
			servers[h.name] = w.SMTP(h.name, h.opts(w))
			ports[h.name] = []int{25}
		}
		if c.mode != "" {
			mx := c.mx
			if mx == nil {
				mx = []string{"mx." + c.domain}
			}
			w.PolicyDomain(c.domain, "version: STSv1\nmode: "+c.mode+"\nmx: "+strings.Join(mx, "\nmx: ")+"\nmax_age: 86400\n")
		}
	}
	w.DNS.SetRcode("_mta-sts.tempfail.test", dns.TypeTXT, dns.RcodeServerFailure)

	// Exim routes as its own user here (see package testexim).
	sockDir, err := os.MkdirTemp("", "mtasts-exim-sock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	if err := os.Chmod(sockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(sockDir, "exim.sock")
	d := startService(t, w, "", func(c *Config) {
		c.LogLevel = "debug"
		c.EximListen = []string{"unix:" + sock}
		c.SocketMode = "0666"
	})

	ns := testpostfix.NewNamespace(t)
	ns.ServeWorld(w, ports)
	ca, err := os.ReadFile(w.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	doc := eximDocBlocks(t)
	x := testexim.Start(t, ns, testexim.Options{
		Main: doc["main"], Routers: doc["routers"], Transports: doc["transports"],
		Macros: map[string]string{"MTASTS_SOCKET": sock},
		CA:     ca,
	})

	for _, c := range cases {
		rcpt := "rcpt@" + c.domain
		x.Send("alice@sender.test", c.domain, rcpt)
		mark := "=="
		if c.delivered != "" {
			mark = "=>"
		}
		line := x.LogLine(append([]string{mark + " " + rcpt + " "}, c.log...)...)
		if line == "" {
			t.Errorf("%s: no log line with %q %q", c.domain, mark, c.log)
		} else {
			t.Logf("%s: %s", c.domain, line)
		}
		for name, srv := range servers {
			if !strings.HasSuffix(name, "."+c.domain) {
				continue
			}
			want := 0
			if name == c.delivered {
				want = 1
			}
			if got := len(srv.Messages()); got != want {
				t.Errorf("%s: %s received %d messages, want %d", c.domain, name, got, want)
			}
		}
		if queued := strings.Contains(x.Queue(), rcpt); queued != (c.delivered == "") {
			t.Errorf("%s: queued = %v, want %v", c.domain, queued, c.delivered == "")
		}
		if !strings.Contains(d.log.String(), "key="+c.domain+" ") {
			t.Errorf("the daemon was not asked about %s", c.domain)
		}
	}

	// One message, recipients under different policies: each is routed
	// with its own answer.
	x.Send("alice@sender.test", "mixed", "both@enforce-good.test", "both@enforce-uncovered.test", "both@nopolicy-plain.test")
	for _, want := range [][]string{
		{"=> both@enforce-good.test ", "T=mtasts_smtp", "CV=yes"},
		{"== both@enforce-uncovered.test ", "R=dnslookup", "defer"},
		{"both@nopolicy-plain.test ", "T=remote_smtp"}, // "->" or "=>", as Exim batches it
	} {
		if x.LogLine(want...) == "" {
			t.Errorf("mixed message: no log line with %q", want)
		}
	}
	if n := len(servers["mx.enforce-uncovered.test"].Messages()); n != 0 {
		t.Errorf("mixed message: the uncovered MX received %d messages", n)
	}

	// Without an answer from the daemon, nothing is delivered.
	down := testexim.Start(t, ns, testexim.Options{
		Main: doc["main"], Routers: doc["routers"], Transports: doc["transports"],
		Macros: map[string]string{"MTASTS_SOCKET": filepath.Join(sockDir, "none.sock")},
		CA:     ca,
	})
	down.Send("alice@sender.test", "daemon down", "down@nopolicy-plain.test")
	if line := down.LogLine("== down@nopolicy-plain.test ", "R=mtasts", "no answer from the mtasts daemon"); line == "" {
		t.Errorf("daemon down: no deferral in the log:\n%s", down.Log())
	}
	if n := len(servers["mx.nopolicy-plain.test"].Messages()); n != 2 {
		t.Errorf("daemon down: mx.nopolicy-plain.test received %d messages, want the 2 from before", n)
	}
	if t.Failed() {
		t.Logf("Exim log:\n%s\ndaemon log:\n%s", x.Log(), d.log)
	}
}
