package deliver_test

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/mtasts/mtasts/deliver"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
)

const (
	enforcePolicy = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: mx2.example.com\nmax_age: 86400\n"
	testingPolicy = "version: STSv1\nmode: testing\nmx: mx1.example.com\nmax_age: 86400\n"
	message       = "From: a@sender.test\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n"
)

// option changes the configuration of a test Sender's DNS client and
// resolver.
type option func(*dnsx.Config, *resolver.Config)

// fastDNS makes DNS queries give up after 200 ms, for tests of dropped
// queries.
func fastDNS(dc *dnsx.Config, _ *resolver.Config) {
	dc.Timeout, dc.Attempts = 200*time.Millisecond, 1
}

// newSender returns a Sender living in w.
func newSender(t *testing.T, w *testworld.World, opts ...option) *deliver.Sender {
	t.Helper()
	dc := dnsx.Config{Servers: []string{w.Resolver()}}
	rc := resolver.Config{Fetch: sts.FetchOptions{RootCAs: w.RootCAs(), DialContext: w.DialContext}}
	for _, o := range opts {
		o(&dc, &rc)
	}
	dns, err := dnsx.New(dc)
	if err != nil {
		t.Fatal(err)
	}
	rc.DNS = dns
	r, err := resolver.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	return &deliver.Sender{Resolver: r, DNS: dns, Dial: w.DialContext, RootCAs: w.RootCAs(), HeloName: "sender.test", Timeout: 5 * time.Second}
}

// send sends message to the recipients to (b@example.com if none) with
// s, bounded by 8 seconds.
func send(t *testing.T, s *deliver.Sender, to ...string) (*deliver.Result, error) {
	t.Helper()
	if len(to) == 0 {
		to = []string{"b@example.com"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	res, err := s.Send(ctx, "a@sender.test", to, []byte(message))
	if res == nil {
		t.Fatalf("Send returned no result (error %v)", err)
	}
	return res, err
}

// checkErr fails the test unless err wraps want (nil: err is nil).
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("Send error = %v, want %v", err, want)
	}
}

// checkAttempts compares res.Attempts with want, in order.
func checkAttempts(t *testing.T, res *deliver.Result, want []want) {
	t.Helper()
	if len(res.Attempts) != len(want) {
		t.Fatalf("attempts = %+v, want %+v", res.Attempts, want)
	}
	for i, w := range want {
		a := res.Attempts[i]
		if a.Host != w.host || a.Outcome != w.outcome || a.ResultType != w.resultType {
			t.Errorf("attempt %d = {%s %s %q err=%v}, want {%s %s %q}", i, a.Host, a.Outcome, a.ResultType, a.Err, w.host, w.outcome, w.resultType)
		}
	}
}

// want is the expected outcome of one MX attempt.
type want struct {
	host       string
	outcome    deliver.Outcome
	resultType tlsrpt.ResultType
}

// badFirstMX is the setup of a case where example.com has the policy
// policy, and the MX hosts mx1 (preference 10), whose server runs with
// the options mx1 returns, and a sound mx2 (20).
func badFirstMX(policy string, mx1 func(t *testing.T, w *testworld.World) testworld.SMTPOptions) func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
	return func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
		w.DNS.Add("example.com. MX 10 mx1.example.com.", "example.com. MX 20 mx2.example.com.")
		w.PolicyDomain("example.com", policy)
		return map[string]*testworld.SMTPServer{
			"mx1": w.SMTP("mx1.example.com", mx1(t, w)),
			"mx2": w.SMTP("mx2.example.com", testworld.SMTPOptions{}),
		}
	}
}

func TestSend(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer
		// attempts are the expected attempts, in order.
		attempts []want
		// delivered names the server that must hold the message, and
		// overTLS whether it came over TLS.
		delivered string
		overTLS   bool
		// errIs is the sentinel Send's error must wrap (nil: success).
		errIs error
	}{{
		name: "RFC8461_5_enforce_valid_cert_delivers_over_TLS",
		setup: func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
			w.DNS.Add("example.com. MX 10 mx1.example.com.")
			w.PolicyDomain("example.com", enforcePolicy)
			return map[string]*testworld.SMTPServer{"mx1": w.SMTP("mx1.example.com", testworld.SMTPOptions{})}
		},
		attempts:  []want{{"mx1.example.com", deliver.OutcomeDelivered, ""}},
		delivered: "mx1", overTLS: true,
	}, {
		name: "RFC8461_4.2_enforce_expired_cert_tries_next_MX",
		setup: badFirstMX(enforcePolicy, func(t *testing.T, w *testworld.World) testworld.SMTPOptions {
			return testworld.SMTPOptions{Cert: w.CA.Expired(t, "mx1.example.com")}
		}),
		attempts: []want{
			{"mx1.example.com", deliver.OutcomeTLSFailed, tlsrpt.ResultCertificateExpired},
			{"mx2.example.com", deliver.OutcomeDelivered, ""},
		},
		delivered: "mx2", overTLS: true,
	}, {
		name: "RFC8460_4.3.2_enforce_wrong_name_is_host_mismatch_tries_next_MX",
		setup: badFirstMX(enforcePolicy, func(t *testing.T, w *testworld.World) testworld.SMTPOptions {
			return testworld.SMTPOptions{Cert: w.CA.Valid(t, "mail.example.net")}
		}),
		attempts: []want{
			{"mx1.example.com", deliver.OutcomeTLSFailed, tlsrpt.ResultCertificateHostMismatch},
			{"mx2.example.com", deliver.OutcomeDelivered, ""},
		},
		delivered: "mx2", overTLS: true,
	}, {
		name: "RFC8460_4.3.2_enforce_untrusted_cert_tries_next_MX",
		setup: badFirstMX(enforcePolicy, func(t *testing.T, w *testworld.World) testworld.SMTPOptions {
			return testworld.SMTPOptions{Cert: testworld.SelfSigned(t, "mx1.example.com")}
		}),
		attempts: []want{
			{"mx1.example.com", deliver.OutcomeTLSFailed, tlsrpt.ResultCertificateNotTrusted},
			{"mx2.example.com", deliver.OutcomeDelivered, ""},
		},
		delivered: "mx2", overTLS: true,
	}, {
		name: "RFC8461_7.2_enforce_TLS_1.1_tries_next_MX",
		setup: badFirstMX(enforcePolicy, func(t *testing.T, w *testworld.World) testworld.SMTPOptions {
			return testworld.SMTPOptions{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
		}),
		attempts: []want{
			{"mx1.example.com", deliver.OutcomeTLSFailed, tlsrpt.ResultValidationFailure},
			{"mx2.example.com", deliver.OutcomeDelivered, ""},
		},
		delivered: "mx2", overTLS: true,
	}, {
		name: "RFC8461_5_enforce_every_MX_failing_is_temporary",
		setup: func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
			w.DNS.Add("example.com. MX 10 mx1.example.com.", "example.com. MX 20 mx2.example.com.")
			w.PolicyDomain("example.com", enforcePolicy)
			return map[string]*testworld.SMTPServer{
				"mx1": w.SMTP("mx1.example.com", testworld.SMTPOptions{Cert: w.CA.Expired(t, "mx1.example.com")}),
				"mx2": w.SMTP("mx2.example.com", testworld.SMTPOptions{Cert: w.CA.NotYetValid(t, "mx2.example.com")}),
			}
		},
		attempts: []want{
			{"mx1.example.com", deliver.OutcomeTLSFailed, tlsrpt.ResultCertificateExpired},
			{"mx2.example.com", deliver.OutcomeTLSFailed, tlsrpt.ResultCertificateExpired},
		},
		errIs: deliver.ErrTemporary,
	}, {
		name: "RFC8461_4.1_enforce_MX_not_in_policy_is_skipped_next_MX_delivers",
		setup: func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
			w.DNS.Add("example.com. MX 10 mx.attacker.test.", "example.com. MX 20 mx1.example.com.")
			w.PolicyDomain("example.com", enforcePolicy)
			return map[string]*testworld.SMTPServer{
				"rogue": w.SMTP("mx.attacker.test", testworld.SMTPOptions{}),
				"mx1":   w.SMTP("mx1.example.com", testworld.SMTPOptions{}),
			}
		},
		attempts: []want{
			{"mx.attacker.test", deliver.OutcomeSkipped, tlsrpt.ResultValidationFailure},
			{"mx1.example.com", deliver.OutcomeDelivered, ""},
		},
		delivered: "mx1", overTLS: true,
	}, {
		name: "RFC8461_4.1_enforce_wildcard_covers_one_label_only",
		setup: func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
			w.DNS.Add("example.com. MX 10 a.mx.example.com.", "example.com. MX 20 mx.example.com.")
			w.PolicyDomain("example.com", "version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 86400\n")
			return map[string]*testworld.SMTPServer{
				"deep": w.SMTP("a.mx.example.com", testworld.SMTPOptions{}),
				"mx":   w.SMTP("mx.example.com", testworld.SMTPOptions{}),
			}
		},
		attempts: []want{
			{"a.mx.example.com", deliver.OutcomeSkipped, tlsrpt.ResultValidationFailure},
			{"mx.example.com", deliver.OutcomeDelivered, ""},
		},
		delivered: "mx", overTLS: true,
	}, {
		name: "RFC8461_5_testing_expired_cert_delivers_and_reports",
		setup: badFirstMX(testingPolicy, func(t *testing.T, w *testworld.World) testworld.SMTPOptions {
			return testworld.SMTPOptions{Cert: w.CA.Expired(t, "mx1.example.com")}
		}),
		attempts:  []want{{"mx1.example.com", deliver.OutcomeDelivered, tlsrpt.ResultCertificateExpired}},
		delivered: "mx1", overTLS: true,
	}, {
		name: "RFC8461_5_testing_wrong_name_delivers_and_reports",
		setup: func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
			w.DNS.Add("example.com. MX 10 mx1.example.com.")
			w.PolicyDomain("example.com", testingPolicy)
			return map[string]*testworld.SMTPServer{"mx1": w.SMTP("mx1.example.com", testworld.SMTPOptions{Cert: w.CA.Valid(t, "mail.example.net")})}
		},
		attempts:  []want{{"mx1.example.com", deliver.OutcomeDelivered, tlsrpt.ResultCertificateHostMismatch}},
		delivered: "mx1", overTLS: true,
	}, {
		name: "RFC8461_7.2_testing_TLS_1.1_delivers_and_reports",
		setup: func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
			w.DNS.Add("example.com. MX 10 mx1.example.com.")
			w.PolicyDomain("example.com", testingPolicy)
			return map[string]*testworld.SMTPServer{"mx1": w.SMTP("mx1.example.com", testworld.SMTPOptions{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})}
		},
		attempts:  []want{{"mx1.example.com", deliver.OutcomeDelivered, tlsrpt.ResultValidationFailure}},
		delivered: "mx1", overTLS: true,
	}, {
		name: "RFC8461_4.1_testing_MX_not_in_policy_delivers_and_reports",
		setup: func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
			w.DNS.Add("example.com. MX 10 mx2.example.com.")
			w.PolicyDomain("example.com", testingPolicy)
			return map[string]*testworld.SMTPServer{"mx2": w.SMTP("mx2.example.com", testworld.SMTPOptions{})}
		},
		attempts:  []want{{"mx2.example.com", deliver.OutcomeDelivered, tlsrpt.ResultValidationFailure}},
		delivered: "mx2", overTLS: true,
	}, {
		name: "RFC8461_4.1_enforce_MX_not_in_policy_is_skipped",
		setup: func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
			w.DNS.Add("example.com. MX 10 mx.attacker.test.")
			w.PolicyDomain("example.com", enforcePolicy)
			return map[string]*testworld.SMTPServer{"rogue": w.SMTP("mx.attacker.test", testworld.SMTPOptions{})}
		},
		attempts: []want{{"mx.attacker.test", deliver.OutcomeSkipped, tlsrpt.ResultValidationFailure}},
		errIs:    deliver.ErrTemporary,
	}, {
		name: "RFC8461_5_enforce_no_STARTTLS_is_temporary",
		setup: func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
			w.DNS.Add("example.com. MX 10 mx1.example.com.")
			w.PolicyDomain("example.com", enforcePolicy)
			return map[string]*testworld.SMTPServer{"mx1": w.SMTP("mx1.example.com", testworld.SMTPOptions{NoSTARTTLS: true})}
		},
		attempts: []want{{"mx1.example.com", deliver.OutcomeTLSFailed, tlsrpt.ResultSTARTTLSNotSupported}},
		errIs:    deliver.ErrTemporary,
	}, {
		name: "RFC8461_5_testing_bad_cert_delivers_and_reports",
		setup: func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
			w.DNS.Add("example.com. MX 10 mx1.example.com.")
			w.PolicyDomain("example.com", testingPolicy)
			return map[string]*testworld.SMTPServer{"mx1": w.SMTP("mx1.example.com", testworld.SMTPOptions{Cert: testworld.SelfSigned(t, "mx1.example.com")})}
		},
		attempts:  []want{{"mx1.example.com", deliver.OutcomeDelivered, tlsrpt.ResultCertificateNotTrusted}},
		delivered: "mx1", overTLS: true,
	}, {
		name: "RFC8461_5_testing_no_STARTTLS_delivers_in_plaintext",
		setup: func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
			w.DNS.Add("example.com. MX 10 mx1.example.com.")
			w.PolicyDomain("example.com", testingPolicy)
			return map[string]*testworld.SMTPServer{"mx1": w.SMTP("mx1.example.com", testworld.SMTPOptions{NoSTARTTLS: true})}
		},
		attempts:  []want{{"mx1.example.com", deliver.OutcomeDelivered, tlsrpt.ResultSTARTTLSNotSupported}},
		delivered: "mx1",
	}, {
		name: "RFC3207_no_policy_no_STARTTLS_delivers_in_plaintext",
		setup: func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
			w.DNS.Add("example.com. MX 10 mx1.example.com.")
			return map[string]*testworld.SMTPServer{"mx1": w.SMTP("mx1.example.com", testworld.SMTPOptions{NoSTARTTLS: true})}
		},
		attempts:  []want{{"mx1.example.com", deliver.OutcomeDelivered, ""}},
		delivered: "mx1",
	}, {
		name: "RFC5321_5.1_no_MX_uses_implicit_MX",
		setup: func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
			w.DNS.Add("example.com. TXT \"unrelated\"")
			return map[string]*testworld.SMTPServer{"apex": w.SMTP("example.com", testworld.SMTPOptions{})}
		},
		attempts:  []want{{"example.com", deliver.OutcomeDelivered, ""}},
		delivered: "apex", overTLS: true,
	}, {
		name: "RFC7505_null_MX_is_permanent",
		setup: func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
			w.DNS.Add("example.com. MX 0 .")
			return nil
		},
		errIs: deliver.ErrPermanent,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := testworld.New(t)
			servers := tc.setup(t, w)
			res, err := send(t, newSender(t, w))
			checkErr(t, err, tc.errIs)
			checkAttempts(t, res, tc.attempts)
			for name, srv := range servers {
				msgs := srv.Messages()
				if name != tc.delivered {
					if len(msgs) != 0 {
						t.Errorf("%s got %d messages, want none", name, len(msgs))
					}
					continue
				}
				if len(msgs) != 1 {
					t.Fatalf("%s got %d messages, want 1", name, len(msgs))
				}
				if got := msgs[0].TLS != nil; got != tc.overTLS {
					t.Errorf("%s: message over TLS = %v, want %v", name, got, tc.overTLS)
				}
				if len(msgs[0].To) != 1 || msgs[0].To[0] != "b@example.com" || string(msgs[0].Data) != message {
					t.Errorf("%s: got message %+v", name, msgs[0])
				}
			}
		})
	}
}
