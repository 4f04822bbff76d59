// Package webtest generates aggregate TLS reports (RFC 8460) that look
// like those real senders send, and fills a report store with them: for
// the tests and benchmarks of the dashboard, and to look at it without
// waiting for real reports.
//
// The reports are reproducible: the same Options give the same reports.
// Each covers one UTC day, one policy domain and one sending
// organisation. Most sessions succeed; each domain has its own troubles
// (an expired certificate on one MX for a few weeks, a sender that
// cannot fetch the policy, an MX without STARTTLS), as well as the odd
// failure every busy domain sees.
package webtest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// Options choose what Generate produces. The zero value gives 1000
// reports over the 30 days up to today.
type Options struct {
	// Reports is how many reports; 0 means 1000.
	Reports int
	// Domains is how many policy domains; 0 means enough for every
	// domain to get a report from every organisation each day.
	Domains int
	// End is the day of the latest reports; zero means today (UTC).
	// Reports fill the days backwards from it.
	End time.Time
	// Seed varies the reports.
	Seed uint64
}

// sender is a reporting organisation and the way it writes reports.
type sender struct {
	name, contact string
	// scale is its typical number of sessions per domain and day.
	scale float64
	// id writes its report-id for a domain and day.
	id func(domain string, day time.Time, n int) string
	// net is the /24 its sending MTAs live in.
	net [3]byte
}

var senders = []sender{
	{"Google Inc.", "smtp-tls-reporting@google.com", 4000,
		func(d string, t time.Time, _ int) string { return t.Format("2006-01-02T15:04:05Z") + "_" + d }, [3]byte{209, 85, 220}},
	{"Microsoft Corporation", "tlsrpt-noreply@microsoft.com", 2500,
		func(d string, _ time.Time, n int) string { return fmt.Sprintf("1339%014d+%s", n, d) }, [3]byte{40, 107, 22}},
	{"Yahoo", "tlsrpt@yahooinc.com", 600,
		func(d string, t time.Time, n int) string { return fmt.Sprintf("%d.%s.%x", t.Unix(), d, n) }, [3]byte{98, 137, 65}},
	{"Comcast", "tlsrpt-noreply@comcast.net", 150,
		func(d string, t time.Time, _ int) string { return t.Format("20060102") + "-" + d }, [3]byte{96, 114, 154}},
	{"Mail.Ru", "tlsrpt@corp.mail.ru", 120,
		func(d string, t time.Time, n int) string { return fmt.Sprintf("%s-%d", d, t.Unix()+int64(n%1000)) }, [3]byte{94, 100, 180}},
	{"Zoho Corporation", "tlsrpt@zohomail.com", 90,
		func(d string, t time.Time, n int) string { return fmt.Sprintf("zoho-%08x-%s", n, t.Format("20060102")) }, [3]byte{136, 143, 188}},
	{"Fastmail Pty Ltd", "tls-reports@fastmail.com", 60,
		func(d string, t time.Time, n int) string { return fmt.Sprintf("fm%d%s", n, t.Format("0102")) }, [3]byte{103, 168, 172}},
	{"Proton AG", "tlsrpt@protonmail.ch", 40,
		func(d string, t time.Time, n int) string { return fmt.Sprintf("%s!%d!%d", d, t.Unix(), n) }, [3]byte{185, 70, 42}},
}

// trouble is a cause of failures of a domain: from a number of days
// before End, for some days, a share of one sender's (or all senders')
// sessions to one MX fail with a result type.
type trouble struct {
	result          tlsrpt.ResultType
	reason          string
	mx              int // index of the MX host
	sender          int // -1 for every sender
	fromAgo, length int
	share           float64
}

// troubles are the kinds of trouble domains get, in turn.
var troubles = []trouble{
	{tlsrpt.ResultCertificateExpired, "X509_V_ERR_CERT_HAS_EXPIRED", 1, -1, 25, 9, 0.3},
	{tlsrpt.ResultSTSPolicyFetchError, "policy fetch: connection timed out", 0, 1, 60, 20, 0.04},
	{tlsrpt.ResultSTARTTLSNotSupported, "", 2, -1, 12, 12, 0.08},
	{tlsrpt.ResultCertificateHostMismatch, "X509_V_ERR_HOSTNAME_MISMATCH", 0, -1, 200, 40, 0.1},
	{tlsrpt.ResultCertificateNotTrusted, "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY", 1, 0, 5, 5, 0.5},
	{tlsrpt.ResultSTSWebPKIInvalid, "certificate has expired", 0, -1, 90, 6, 0.03},
}

var modes = []string{"enforce", "testing", "enforce", "testing", "none"}

// Domain returns the name of policy domain i.
func Domain(i int) string {
	names := []string{"example.com", "example.org", "example.net", "shop.example", "mail.example", "news.example"}
	if i < len(names) {
		return names[i]
	}
	return fmt.Sprintf("domain%d.example", i)
}

func (o *Options) defaults() {
	if o.Reports <= 0 {
		o.Reports = 1000
	}
	if o.End.IsZero() {
		o.End = time.Now()
	}
	o.End = o.End.UTC().Truncate(24 * time.Hour)
	if o.Domains <= 0 {
		o.Domains = max(1, int(math.Ceil(float64(o.Reports)/float64(30*len(senders)))))
	}
}

// Generate calls fn with each report that o describes, in order, newest
// day first, and stops at the first error of fn.
func Generate(o Options, fn func(*tlsrpt.Report) error) error {
	o.defaults()
	perDay := o.Domains * len(senders)
	for i := range o.Reports {
		ago := i / perDay
		dom := (i / len(senders)) % o.Domains
		if err := fn(report(o, i, ago, dom, i%len(senders))); err != nil {
			return err
		}
	}
	return nil
}

// report builds report number n: sender s about domain dom, ago days
// before o.End.
func report(o Options, n, ago, dom, s int) *tlsrpt.Report {
	rng := rand.New(rand.NewPCG(o.Seed, uint64(n)))
	snd := senders[s]
	domain := Domain(dom)
	day := o.End.AddDate(0, 0, -ago)
	mx := []string{"mx1." + domain, "mx2." + domain, "backup-mx." + domain}
	policy := tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: domain, MXHosts: []string{"mx1." + domain, "*." + domain},
		Strings: []string{"version: STSv1", "mode: " + modes[dom%len(modes)], "mx: mx1." + domain, "mx: *." + domain, "max_age: 604800"}}
	switch dom % 11 {
	case 7:
		policy = tlsrpt.Policy{Type: tlsrpt.PolicyTLSA, Domain: domain, MXHosts: mx[:2],
			Strings: []string{"3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6"}}
	case 10:
		policy = tlsrpt.Policy{Type: tlsrpt.PolicyNoPolicyFound, Domain: domain}
	}
	// Weekends are quieter; volumes vary from day to day.
	total := snd.scale * (0.5 + rng.Float64()) * (1 + float64(dom%4))
	if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
		total *= 0.6
	}
	pr := tlsrpt.PolicyResult{Policy: policy}
	for ti := range 2 {
		t := troubles[(dom+ti*3)%len(troubles)]
		if ago < t.fromAgo-t.length || ago > t.fromAgo || (t.sender >= 0 && t.sender != s) || (dom+ti)%3 == 2 {
			continue
		}
		pr.FailureDetails = append(pr.FailureDetails, details(rng, snd, t, mx[t.mx], dom, total*t.share)...)
	}
	// The odd failure a busy domain always sees.
	if rng.IntN(8) == 0 {
		i := rng.IntN(2)
		pr.FailureDetails = append(pr.FailureDetails, details(rng, snd,
			trouble{result: tlsrpt.ResultValidationFailure, reason: "TLS handshake: unexpected EOF", mx: i},
			mx[i], dom, float64(1+rng.IntN(3)))...)
	}
	var failed int64
	for _, f := range pr.FailureDetails {
		failed += f.FailedSessionCount
	}
	pr.Summary = tlsrpt.Summary{Successful: max(0, int64(total)-failed), Failed: failed}
	return &tlsrpt.Report{
		OrganizationName: snd.name, ContactInfo: snd.contact, ReportID: snd.id(domain, day, n),
		DateRange: tlsrpt.DateRange{Start: day, End: day.Add(24*time.Hour - time.Second)},
		Policies:  []tlsrpt.PolicyResult{pr},
	}
}

// details spreads count failed sessions of trouble t over a few sending
// MTAs of the sender.
func details(rng *rand.Rand, snd sender, t trouble, mxHost string, dom int, count float64) []tlsrpt.FailureDetail {
	parts := 1 + rng.IntN(3)
	var out []tlsrpt.FailureDetail
	for p := range parts {
		n := int64(count / float64(parts))
		if p == 0 {
			n = int64(count) - int64(count/float64(parts))*int64(parts-1)
		}
		if n <= 0 {
			continue
		}
		out = append(out, tlsrpt.FailureDetail{
			ResultType:          t.result,
			SendingMTAIP:        netip.AddrFrom4([4]byte{snd.net[0], snd.net[1], snd.net[2], byte(10 + rng.IntN(200))}),
			ReceivingMXHostname: mxHost,
			ReceivingIP:         netip.AddrFrom4([4]byte{192, 0, 2, byte(dom*3%250 + t.mx + 1)}),
			FailedSessionCount:  n,
			FailureReasonCode:   t.reason,
		})
	}
	return out
}

// batchSize is how many reports Fill stores per transaction.
const batchSize = 500

// Fill stores the reports o describes in s and returns how many it
// accepted. Most arrive by HTTPS, every third by mail.
func Fill(ctx context.Context, s *reportstore.Store, o Options) (int, error) {
	var batch []*reportstore.Submission
	accepted := 0
	flush := func() error {
		for i, r := range s.AddBatch(ctx, batch) {
			if r.Err != nil {
				return fmt.Errorf("webtest: storing report %s: %w", batch[i].Report.ReportID, r.Err)
			}
			if r.Outcome == reportstore.Accepted {
				accepted++
			}
		}
		batch = batch[:0]
		return nil
	}
	err := Generate(o, func(rep *tlsrpt.Report) error {
		raw, err := tlsrpt.Render(rep)
		if err != nil {
			return err
		}
		sub := &reportstore.Submission{Report: rep, Raw: raw, RawType: tlsrpt.MediaTypeJSON,
			Source: reportstore.SourceHTTPS, Origin: "203.0.113.7", Received: rep.DateRange.End.Add(3 * time.Hour)}
		if len(batch)%3 == 0 {
			sub.Source, sub.Origin = reportstore.SourceSMTP, "tlsrpt@"+rep.Policies[0].Policy.Domain
			_, submitter, _ := strings.Cut(rep.ContactInfo, "@")
			sub.Mail = &reportstore.MailInfo{Domain: rep.Policies[0].Policy.Domain, Submitter: submitter,
				Subject: "Report Domain: " + rep.Policies[0].Policy.Domain + " Submitter: " + rep.OrganizationName,
				DKIM:    reportstore.DKIMPass}
		}
		batch = append(batch, sub)
		if len(batch) == batchSize {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	return accepted, err
}
