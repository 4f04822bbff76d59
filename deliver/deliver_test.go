package deliver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mtasts/mtasts/deliver"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/testworld"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrpt"
)

const (
	enforcePolicy = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: mx2.example.com\nmax_age: 86400\n"
	testingPolicy = "version: STSv1\nmode: testing\nmx: mx1.example.com\nmax_age: 86400\n"
	message       = "From: a@sender.test\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n"
)

// newSender returns a Sender living in w.
func newSender(t *testing.T, w *testworld.World) *deliver.Sender {
	t.Helper()
	dns, err := dnsx.NewFromAddr(w.Resolver())
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{DNS: dns, Fetch: sts.FetchOptions{RootCAs: w.RootCAs(), DialContext: w.DialContext}})
	if err != nil {
		t.Fatal(err)
	}
	return &deliver.Sender{Resolver: r, DNS: dns, Dial: w.DialContext, RootCAs: w.RootCAs(), HeloName: "sender.test", Timeout: 5 * time.Second}
}

// want is the expected outcome of one MX attempt.
type want struct {
	host       string
	outcome    deliver.Outcome
	resultType tlsrpt.ResultType
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
		setup: func(t *testing.T, w *testworld.World) map[string]*testworld.SMTPServer {
			w.DNS.Add("example.com. MX 10 mx1.example.com.", "example.com. MX 20 mx2.example.com.")
			w.PolicyDomain("example.com", enforcePolicy)
			return map[string]*testworld.SMTPServer{
				"mx1": w.SMTP("mx1.example.com", testworld.SMTPOptions{Cert: w.CA.Expired(t, "mx1.example.com")}),
				"mx2": w.SMTP("mx2.example.com", testworld.SMTPOptions{}),
			}
		},
		attempts: []want{
			{"mx1.example.com", deliver.OutcomeTLSFailed, tlsrpt.ResultCertificateExpired},
			{"mx2.example.com", deliver.OutcomeDelivered, ""},
		},
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
			s := newSender(t, w)
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			res, err := s.Send(ctx, "a@sender.test", []string{"b@example.com"}, []byte(message))
			if tc.errIs == nil && err != nil || tc.errIs != nil && !errors.Is(err, tc.errIs) {
				t.Fatalf("Send error = %v, want %v", err, tc.errIs)
			}
			if len(res.Attempts) != len(tc.attempts) {
				t.Fatalf("attempts = %+v, want %+v", res.Attempts, tc.attempts)
			}
			for i, w := range tc.attempts {
				a := res.Attempts[i]
				if a.Host != w.host || a.Outcome != w.outcome || a.ResultType != w.resultType {
					t.Errorf("attempt %d = {%s %s %q err=%v}, want {%s %s %q}", i, a.Host, a.Outcome, a.ResultType, a.Err, w.host, w.outcome, w.resultType)
				}
			}
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
