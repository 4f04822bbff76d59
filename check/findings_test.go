package check

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// scenario is one domain of the findings world and the exact set of codes
// its check must give.
type scenario struct {
	name  string // the domain is name + ".test"
	want  []Code
	setup func(t *testing.T, w *testworld.World, d string)
	opts  func(*Options)
}

// good publishes a correct deployment changed by edit.
func good(edit func(*site)) func(*testing.T, *testworld.World, string) {
	return func(t *testing.T, w *testworld.World, d string) {
		s := site{}
		if edit != nil {
			edit(&s)
		}
		publish(t, w, d, s)
	}
}

// policyText publishes a correct deployment whose policy is text, with
// "$MX" replaced by the MX host name.
func policyText(text string) func(*testing.T, *testworld.World, string) {
	return func(t *testing.T, w *testworld.World, d string) {
		publish(t, w, d, site{policy: strings.ReplaceAll(text, "$MX", "mx1."+d)})
	}
}

// withRecord publishes a correct deployment whose _mta-sts record is txt.
func withRecord(txt string) func(*testing.T, *testworld.World, string) {
	return good(func(s *site) { s.record = txt })
}

// policyResponse publishes a correct deployment whose policy host answers
// with resp (Body defaults to the policy).
func policyResponse(resp testworld.Response) func(*testing.T, *testworld.World, string) {
	return func(t *testing.T, w *testworld.World, d string) {
		publish(t, w, d, site{})
		if resp.Body == nil {
			resp.Body = []byte("version: STSv1\nmode: enforce\nmx: mx1." + d + "\nmax_age: 1209600\n")
		}
		w.HTTPSHost("mta-sts."+d).Set(testworld.PolicyPath, resp)
	}
}

// policyCert publishes a correct deployment whose policy host presents
// the certificate made by cert for its name.
func policyCert(cert func(t *testing.T, w *testworld.World, host string) *tls.Certificate) func(*testing.T, *testworld.World, string) {
	return func(t *testing.T, w *testworld.World, d string) {
		publish(t, w, d, site{})
		host := "mta-sts." + d
		w.HTTPSHost(host).SetCert(cert(t, w, host))
	}
}

// mxServer publishes a correct deployment whose MX mx1 runs the ESMTP
// server configured by opts.
func mxServer(opts func(t *testing.T, w *testworld.World, host string) testworld.SMTPOptions) func(*testing.T, *testworld.World, string) {
	return func(t *testing.T, w *testworld.World, d string) {
		host := "mx1." + d
		publish(t, w, d, site{smtp: map[string]func(){"mx1": func() { w.SMTP(host, opts(t, w, host)) }}})
	}
}

// certExpiringIn returns a certificate for host that expires after d.
func certExpiringIn(d time.Duration) func(*testing.T, *testworld.World, string) *tls.Certificate {
	return func(t *testing.T, w *testworld.World, host string) *tls.Certificate {
		return w.CA.Issue(t, testworld.CertOptions{DNSNames: []string{host}, NotAfter: time.Now().Add(d)})
	}
}

// tlsa publishes a correct deployment with a TLSA record for mx1: one
// matching its certificate, or not, and DNSSEC-authenticated, or not.
func tlsa(match, authenticated bool) func(*testing.T, *testworld.World, string) {
	return func(t *testing.T, w *testworld.World, d string) {
		host := "mx1." + d
		cert := w.CA.Valid(t, host)
		publish(t, w, d, site{smtp: map[string]func(){"mx1": func() { w.SMTP(host, testworld.SMTPOptions{Cert: cert}) }}})
		data, err := dns.CertificateToDANE(1, 1, cert.Leaf)
		if err != nil {
			t.Fatal(err)
		}
		if !match {
			data = strings.Repeat("ab", 32)
		}
		name := "_25._tcp." + host
		w.DNS.Add(name + ". TLSA 3 1 1 " + data)
		w.DNS.SetAuthenticated(name, authenticated)
	}
}

// then runs setup and then more.
func then(setup func(*testing.T, *testworld.World, string), more func(t *testing.T, w *testworld.World, d string)) func(*testing.T, *testworld.World, string) {
	return func(t *testing.T, w *testworld.World, d string) {
		setup(t, w, d)
		more(t, w, d)
	}
}

// servfail makes the DNS answer SERVFAIL for (prefix+d, qtype).
func servfail(prefix string, qtype uint16) func(*testing.T, *testworld.World, string) {
	return func(t *testing.T, w *testworld.World, d string) {
		w.DNS.SetRcode(prefix+d, qtype, dns.RcodeServerFailure)
	}
}

// scenarios has at least one domain for every code of the catalogue.
var scenarios = []scenario{
	{name: "good", want: nil, setup: good(nil)},
	{name: "nomx-probe", want: nil, setup: good(nil), opts: func(o *Options) { o.NoMX = true }},

	// The _mta-sts record.
	{name: "record-missing", want: []Code{stsRecordMissing}, setup: good(func(s *site) { s.noSTS = true })},
	{name: "record-multiple", want: []Code{stsRecordMultiple}, setup: then(good(nil), func(t *testing.T, w *testworld.World, d string) {
		w.DNS.TXT("_mta-sts."+d, "v=STSv1; id=2;")
	})},
	{name: "record-v-not-first", want: []Code{stsRecordSyntax}, setup: withRecord("id=1; v=STSv1;")},
	{name: "record-id-missing", want: []Code{stsRecordIDMissing}, setup: withRecord("v=STSv1;")},
	{name: "record-id-invalid", want: []Code{stsRecordIDInvalid}, setup: withRecord("v=STSv1; id=2024-01-01;")},
	{name: "record-id-long", want: []Code{stsRecordIDInvalid}, setup: withRecord("v=STSv1; id=" + strings.Repeat("1", 33) + ";")},
	{name: "record-ext-invalid", want: []Code{stsRecordExtensionInvalid}, setup: withRecord("v=STSv1; id=1; _x=y;")},
	{name: "record-other-txt", want: []Code{stsRecordOtherTXT}, setup: then(good(nil), func(t *testing.T, w *testworld.World, d string) {
		w.DNS.TXT("_mta-sts."+d, "google-site-verification=abc")
	})},
	{name: "record-at-apex", want: []Code{stsRecordMissing, stsRecordAtApex}, setup: then(good(func(s *site) { s.noSTS = true }), func(t *testing.T, w *testworld.World, d string) {
		w.DNS.TXT(d, "v=STSv1; id=1;")
	})},
	{name: "record-servfail", want: []Code{stsRecordDNSError}, setup: then(good(nil), servfail("_mta-sts.", dns.TypeTXT))},
	{name: "record-timeout", want: []Code{resolverTimeout}, setup: then(good(nil), func(t *testing.T, w *testworld.World, d string) {
		w.DNS.Drop("_mta-sts."+d, dns.TypeTXT)
	}), opts: func(o *Options) { o.Timeout = 200 * time.Millisecond }},

	// The policy host.
	{name: "host-missing", want: []Code{policyHostDNSMissing}, setup: good(func(s *site) { s.hostless = true })},
	{name: "host-servfail", want: []Code{policyHostDNSError}, setup: then(good(func(s *site) { s.hostless = true }), servfail("mta-sts.", dns.TypeANY))},
	{name: "host-refused", want: []Code{policyHostConnect}, setup: then(good(func(s *site) { s.hostless = true }), func(t *testing.T, w *testworld.World, d string) {
		w.HostIP("mta-sts." + d)
	})},
	{name: "host-plain-http", want: []Code{policyHostTLS}, setup: then(good(func(s *site) { s.hostless = true }), func(t *testing.T, w *testworld.World, d string) {
		serve(t, w.Listen("mta-sts."+d, 443), httpPlain)
	})},
	{name: "host-self-signed", want: []Code{policyCertUntrusted}, setup: policyCert(func(t *testing.T, _ *testworld.World, host string) *tls.Certificate {
		return testworld.SelfSigned(t, host)
	})},
	{name: "host-wrong-name", want: []Code{policyCertNameMismatch}, setup: policyCert(func(t *testing.T, w *testworld.World, _ string) *tls.Certificate {
		return w.CA.Valid(t, "www.example.net")
	})},
	{name: "host-expired", want: []Code{policyCertExpired}, setup: policyCert(func(t *testing.T, w *testworld.World, host string) *tls.Certificate {
		return w.CA.Expired(t, host)
	})},
	{name: "host-expiring-soon", want: []Code{policyCertExpiringSoon}, setup: policyCert(certExpiringIn(7 * 24 * time.Hour))},
	{name: "host-expiring", want: []Code{policyCertExpiring}, setup: policyCert(certExpiringIn(20 * 24 * time.Hour))},
	{name: "host-404", want: []Code{policyHTTPStatus}, setup: policyResponse(testworld.Response{Status: http.StatusNotFound, Body: []byte("not found")})},
	{name: "host-redirect", want: []Code{policyRedirect}, setup: policyResponse(testworld.Response{Redirect: "https://mta-sts.good.test/.well-known/mta-sts.txt"})},
	{name: "host-html", want: []Code{policyContentType}, setup: policyResponse(testworld.Response{Header: http.Header{"Content-Type": {"text/html"}}})},
	{name: "host-huge", want: []Code{policyTooLarge}, setup: policyResponse(testworld.Response{Body: bytes.Repeat([]byte("x"), 70<<10)})},
	{name: "host-stalls", want: []Code{policyFetchTimeout}, setup: policyResponse(testworld.Response{Delay: 5 * time.Second}),
		opts: func(o *Options) { o.Timeout = 300 * time.Millisecond }},
	{name: "host-slow", want: []Code{policyFetchSlow}, setup: policyResponse(testworld.Response{Delay: 150 * time.Millisecond}),
		opts: func(o *Options) { o.SlowFetch = 50 * time.Millisecond }},
	{name: "public-only", want: []Code{policyHostNotPublic, mxNotPublic}, setup: good(nil), opts: func(o *Options) { o.PublicOnly = true }},

	// The policy.
	{name: "policy-no-colon", want: []Code{policySyntax}, setup: policyText("version: STSv1\nmode enforce\nmx: $MX\nmax_age: 1209600\n")},
	{name: "policy-v2", want: []Code{policyVersionInvalid}, setup: policyText("version: STSv2\nmode: enforce\nmx: $MX\nmax_age: 1209600\n")},
	{name: "policy-mode-case", want: []Code{policyModeInvalid}, setup: policyText("version: STSv1\nmode: Enforce\nmx: $MX\nmax_age: 1209600\n")},
	{name: "policy-age-word", want: []Code{policyMaxAgeInvalid}, setup: policyText("version: STSv1\nmode: enforce\nmx: $MX\nmax_age: 2w\n")},
	{name: "policy-age-big", want: []Code{policyMaxAgeTooLong}, setup: policyText("version: STSv1\nmode: enforce\nmx: $MX\nmax_age: 31557601\n")},
	{name: "policy-mx-bad", want: []Code{policyMXInvalid}, setup: policyText("version: STSv1\nmode: enforce\nmx: $MX\nmx: mx_2.bad.test\nmax_age: 1209600\n")},
	{name: "policy-no-age", want: []Code{policyKeyMissing}, setup: policyText("version: STSv1\nmode: enforce\nmx: $MX\n")},
	{name: "policy-none", want: []Code{policyModeNone}, setup: policyText("version: STSv1\nmode: none\nmax_age: 86400\n")},
	{name: "policy-none-mx", want: []Code{policyModeNone, policyModeNoneMX}, setup: good(func(s *site) { s.mode = "none" })},
	{name: "policy-testing", want: []Code{policyModeTesting}, setup: good(func(s *site) { s.mode = "testing" })},
	{name: "policy-testing-fails", want: []Code{policyModeTesting, mxCertExpired}, setup: func(t *testing.T, w *testworld.World, d string) {
		host := "mx1." + d
		publish(t, w, d, site{mode: "testing", smtp: map[string]func(){"mx1": func() {
			w.SMTP(host, testworld.SMTPOptions{Cert: w.CA.Expired(t, host)})
		}}})
	}},
	{name: "policy-age-short", want: []Code{policyMaxAgeShort}, setup: policyText("version: STSv1\nmode: enforce\nmx: $MX\nmax_age: 86400\n")},
	{name: "policy-mx-ip", want: []Code{policyMXIP}, setup: policyText("version: STSv1\nmode: enforce\nmx: $MX\nmx: 192.0.2.25\nmax_age: 1209600\n")},
	{name: "policy-mx-unused", want: []Code{policyMXUnused}, setup: policyText("version: STSv1\nmode: enforce\nmx: $MX\nmx: old-mx.example.net\nmax_age: 1209600\n")},
	{name: "policy-crlf-mixed", want: []Code{policyMixedLineEndings}, setup: policyText("version: STSv1\r\nmode: enforce\nmx: $MX\r\nmax_age: 1209600\r\n")},
	{name: "policy-dup-key", want: []Code{policyDuplicateKey}, setup: policyText("version: STSv1\nmode: enforce\nmode: testing\nmx: $MX\nmax_age: 1209600\n")},
	{name: "policy-mx-dot", want: []Code{policyMXTrailingDot}, setup: policyText("version: STSv1\nmode: enforce\nmx: $MX.\nmax_age: 1209600\n")},
	{name: "policy-large", want: []Code{policyLarge}, setup: policyText("version: STSv1\nmode: enforce\n" + strings.Repeat("mx: $MX\n", 200) + "max_age: 1209600\n")},
	{name: "policy-unknown-key", want: []Code{policyUnknownKey}, setup: policyText("version: STSv1\nmode: enforce\nmx: $MX\nmax-age: 1209600\nmax_age: 1209600\n")},
	{name: "policy-blank-line", want: []Code{policyBlankLine}, setup: policyText("version: STSv1\nmode: enforce\n\nmx: $MX\nmax_age: 1209600\n")},
	{name: "policy-mode-first", want: []Code{policyVersionNotFirst}, setup: policyText("mode: enforce\nversion: STSv1\nmx: $MX\nmax_age: 1209600\n")},

	// The MX records.
	{name: "no-such-domain", want: []Code{stsRecordMissing, domainNotFound, tlsrptRecordMissing}, setup: func(*testing.T, *testworld.World, string) {}},
	{name: "mx-servfail", want: []Code{mxDNSError}, setup: then(good(nil), servfail("", dns.TypeMX))},
	{name: "mx-implicit", want: []Code{mxNone}, setup: func(t *testing.T, w *testworld.World, d string) {
		publish(t, w, d, site{mx: []string{}, patterns: []string{d}})
		w.SMTP(d, testworld.SMTPOptions{})
	}},
	{name: "mx-null", want: []Code{mxNull}, setup: func(t *testing.T, w *testworld.World, d string) {
		w.DNS.Add(d + ". MX 0 .")
	}},
	{name: "mx-null-mixed", want: []Code{mxNullMixed}, setup: then(good(nil), func(t *testing.T, w *testworld.World, d string) {
		w.DNS.Add(d + ". MX 0 .")
	})},
	{name: "mx-uncovered", want: []Code{mxNotCovered, enforceBlocksMX}, setup: good(func(s *site) { s.mx = []string{"mx1", "mx2"}; s.patterns = []string{"mx1.mx-uncovered.test"} })},
	{name: "mx-wildcard", want: nil, setup: good(func(s *site) { s.mx = []string{"mx1", "mx2"}; s.patterns = []string{"*.mx-wildcard.test"} })},
	{name: "mx-no-address", want: []Code{mxHostNoAddress}, setup: good(func(s *site) {
		s.mx = []string{"mx1", "mx2"}
		s.smtp = map[string]func(){"mx2": nil}
	})},
	{name: "mx-host-servfail", want: []Code{mxHostDNSError}, setup: then(good(func(s *site) {
		s.mx = []string{"mx1", "mx2"}
		s.smtp = map[string]func(){"mx2": nil}
	}), servfail("mx2.", dns.TypeANY))},

	// Each MX host on port 25.
	{name: "mx-refused", want: []Code{mxConnectFailed}, setup: func(t *testing.T, w *testworld.World, d string) {
		publish(t, w, d, site{smtp: map[string]func(){"mx1": func() { w.HostIP("mx1." + d) }}})
	}},
	{name: "mx-greeting-554", want: []Code{mxSMTPError}, setup: func(t *testing.T, w *testworld.World, d string) {
		publish(t, w, d, site{smtp: map[string]func(){"mx1": func() { serve(t, w.Listen("mx1."+d, 25), smtpRefusing) }}})
	}},
	{name: "mx-broken-tls", want: []Code{mxTLSFailed, enforceBlocksMX}, setup: func(t *testing.T, w *testworld.World, d string) {
		publish(t, w, d, site{smtp: map[string]func(){"mx1": func() { serve(t, w.Listen("mx1."+d, 25), smtpBrokenTLS) }}})
	}},
	{name: "mx-plaintext", want: []Code{mxSTARTTLSMissing, enforceBlocksMX}, setup: mxServer(func(*testing.T, *testworld.World, string) testworld.SMTPOptions {
		return testworld.SMTPOptions{NoSTARTTLS: true}
	})},
	{name: "mx-tls11", want: []Code{mxTLSVersion, enforceBlocksMX}, setup: mxServer(func(*testing.T, *testworld.World, string) testworld.SMTPOptions {
		return testworld.SMTPOptions{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	})},
	{name: "mx-weak-cipher", want: []Code{mxTLSCipherWeak}, setup: mxServer(func(*testing.T, *testworld.World, string) testworld.SMTPOptions {
		return testworld.SMTPOptions{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}}
	})},
	{name: "mx-self-signed", want: []Code{mxCertUntrusted, enforceBlocksMX}, setup: mxServer(func(t *testing.T, _ *testworld.World, host string) testworld.SMTPOptions {
		return testworld.SMTPOptions{Cert: testworld.SelfSigned(t, host)}
	})},
	{name: "mx-wrong-name", want: []Code{mxCertNameMismatch, enforceBlocksMX}, setup: mxServer(func(t *testing.T, w *testworld.World, _ string) testworld.SMTPOptions {
		return testworld.SMTPOptions{Cert: w.CA.Valid(t, "mail.example.net")}
	})},
	{name: "mx-expired", want: []Code{mxCertExpired, enforceBlocksMX}, setup: mxServer(func(t *testing.T, w *testworld.World, host string) testworld.SMTPOptions {
		return testworld.SMTPOptions{Cert: w.CA.Expired(t, host)}
	})},
	{name: "mx-expiring-soon", want: []Code{mxCertExpiringSoon}, setup: mxServer(func(t *testing.T, w *testworld.World, host string) testworld.SMTPOptions {
		return testworld.SMTPOptions{Cert: certExpiringIn(3*24*time.Hour)(t, w, host)}
	})},
	{name: "mx-expiring", want: []Code{mxCertExpiring}, setup: mxServer(func(t *testing.T, w *testworld.World, host string) testworld.SMTPOptions {
		return testworld.SMTPOptions{Cert: certExpiringIn(25*24*time.Hour)(t, w, host)}
	})},

	// DANE.
	{name: "dane-ok", want: []Code{daneTLSAPublished}, setup: tlsa(true, true)},
	{name: "dane-unsigned", want: []Code{daneTLSAUnauthenticated}, setup: tlsa(true, false)},
	{name: "dane-mismatch", want: []Code{daneTLSAPublished, daneTLSAMismatch}, setup: tlsa(false, true)},
	{name: "dane-servfail", want: []Code{daneTLSADNSError}, setup: then(good(nil), servfail("_25._tcp.mx1.", dns.TypeTLSA))},

	// TLS-RPT.
	{name: "tlsrpt-missing", want: []Code{tlsrptRecordMissing}, setup: good(func(s *site) { s.noTLSRPT = true })},
	{name: "tlsrpt-multiple", want: []Code{tlsrptRecordMultiple}, setup: then(good(nil), func(t *testing.T, w *testworld.World, d string) {
		w.DNS.TXT("_smtp._tls."+d, "v=TLSRPTv1; rua=mailto:other@example.net")
	})},
	{name: "tlsrpt-no-rua", want: []Code{tlsrptRecordSyntax}, setup: func(t *testing.T, w *testworld.World, d string) {
		publish(t, w, d, site{noTLSRPT: true})
		w.DNS.TXT("_smtp._tls."+d, "v=TLSRPTv1;")
	}},
	{name: "tlsrpt-ftp", want: []Code{tlsrptRUAInvalid}, setup: func(t *testing.T, w *testworld.World, d string) {
		publish(t, w, d, site{noTLSRPT: true})
		w.DNS.TXT("_smtp._tls."+d, "v=TLSRPTv1; rua=ftp://reports.example.net/")
	}},
	{name: "tlsrpt-servfail", want: []Code{tlsrptDNSError}, setup: then(good(nil), servfail("_smtp._tls.", dns.TypeTXT))},
}

// untestedCodes are codes no world scenario can produce.
var untestedCodes = map[Code]string{
	policyWarning: "only for parser warnings newer than the checker; see TestWarningFallback",
}

// TestFindings checks every scenario domain of one world over real sockets
// and compares the exact set of codes: a missing code and an extra code
// both fail.
func TestFindings(t *testing.T) {
	w := testworld.New(t)
	for _, sc := range scenarios {
		sc.setup(t, w, sc.name+".test")
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			res := checkIn(t, w, sc.name+".test", sc.opts)
			var got []Code
			for _, f := range res.Findings {
				if !slices.Contains(got, f.Code) {
					got = append(got, f.Code)
				}
			}
			want := slices.Clone(sc.want)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				var b strings.Builder
				res.WriteText(&b, TextOptions{Facts: true})
				t.Errorf("codes %v, want %v\n%s", got, want, b.String())
			}
		})
	}
}

// TestScenariosCoverCatalogue makes sure every code has a world scenario.
func TestScenariosCoverCatalogue(t *testing.T) {
	covered := map[Code]bool{}
	for _, sc := range scenarios {
		for _, c := range sc.want {
			covered[c] = true
		}
	}
	for _, d := range catalogue {
		if !covered[d.Code] && untestedCodes[d.Code] == "" {
			t.Errorf("no scenario produces %s", d.Code)
		}
	}
}

// TestMessagesQuoteTheSelectedRecord: when several TXT records look like
// records, messages quote the one senders select (RFC 8461 §3.1, RFC 8460
// §3), not a near miss before it.
func TestMessagesQuoteTheSelectedRecord(t *testing.T) {
	w := testworld.New(t)
	publish(t, w, "mixed.test", site{record: "v=STSv1 ; id=1", noTLSRPT: true})
	w.DNS.TXT("_mta-sts.mixed.test", "v=STSv1; id=bad_id;")
	w.DNS.TXT("_smtp._tls.mixed.test", "v=tlsrpt1; rua=mailto:a@mixed.test")
	w.DNS.TXT("_smtp._tls.mixed.test", "v=TLSRPTv1; rua=ftp://r.mixed.test/")
	res := checkIn(t, w, "mixed.test", nil)
	for code, want := range map[Code]string{
		stsRecordIDInvalid: `"v=STSv1; id=bad_id;"`,
		tlsrptRUAInvalid:   `"v=TLSRPTv1; rua=ftp://r.mixed.test/"`,
	} {
		i := slices.IndexFunc(res.Findings, func(f Finding) bool { return f.Code == code })
		if i < 0 || !strings.Contains(res.Findings[i].Message, want) {
			t.Errorf("%s: want a message quoting %s; findings %+v", code, want, res.Findings)
		}
	}
}
