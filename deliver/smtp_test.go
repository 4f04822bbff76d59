package deliver_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/deliver"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// twoMX publishes example.com with MX hosts mx1 (preference 10) and mx2
// (20) under an enforce policy; mx2 is a testworld server taking every
// message.
func twoMX(t *testing.T, w *testworld.World) *testworld.SMTPServer {
	t.Helper()
	w.DNS.Add("example.com. MX 10 mx1.example.com.", "example.com. MX 20 mx2.example.com.")
	w.PolicyDomain("example.com", enforcePolicy)
	return w.SMTP("mx2.example.com", testworld.SMTPOptions{})
}

// RFC 5321 §4.2.1 and §5.1: a 4yz reply is temporary and the next MX host
// is tried; a 5yz reply to the mail transaction is final, for every MX.
func TestSendReplies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script script
		// mx1 is the outcome on mx1; delivered2 whether mx2 got the
		// message (else it must not have been tried).
		mx1        deliver.Outcome
		delivered2 bool
		errIs      error
		// command and code of the *ReplyError in Send's error, if any.
		command string
		code    int
	}{
		{"RFC5321_4.2.1_MAIL_451_tries_next_MX", script{mail: reply(451, "try later")}, deliver.OutcomeSMTPError, true, nil, "", 0},
		{"RFC5321_4.2.1_MAIL_550_is_permanent", script{mail: reply(550, "no such sender")}, deliver.OutcomeSMTPError, false, deliver.ErrPermanent, "MAIL", 550},
		{"RFC5321_4.2.1_RCPT_450_tries_next_MX", script{rcpt: map[string]*smtp.SMTPError{"b@example.com": reply(450, "mailbox busy")}}, deliver.OutcomeSMTPError, true, nil, "", 0},
		{"RFC5321_4.2.1_RCPT_550_is_permanent", script{rcpt: map[string]*smtp.SMTPError{"b@example.com": reply(550, "no such user")}}, deliver.OutcomeSMTPError, false, deliver.ErrPermanent, "RCPT", 550},
		{"RFC5321_4.2.1_DATA_452_tries_next_MX", script{data: reply(452, "disk full")}, deliver.OutcomeSMTPError, true, nil, "", 0},
		{"RFC5321_4.2.1_DATA_554_is_permanent", script{data: reply(554, "spam")}, deliver.OutcomeSMTPError, false, deliver.ErrPermanent, "DATA", 554},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := testworld.New(t)
			mx2 := twoMX(t, w)
			mx1 := startScripted(t, w, "mx1.example.com", tc.script)
			res, err := send(t, newSender(t, w))
			checkErr(t, err, tc.errIs)
			wantAttempts := []want{{"mx1.example.com", tc.mx1, ""}}
			if tc.delivered2 {
				wantAttempts = append(wantAttempts, want{"mx2.example.com", deliver.OutcomeDelivered, ""})
			}
			checkAttempts(t, res, wantAttempts)
			var re *deliver.ReplyError
			if !errors.As(res.Attempts[0].Err, &re) {
				t.Errorf("mx1 error %v is no *ReplyError", res.Attempts[0].Err)
			}
			if tc.code != 0 && (!errors.As(err, &re) || re.Command != tc.command || re.Code != tc.code || re.Host != "mx1.example.com") {
				t.Errorf("Send error %v, want a *ReplyError for %s %d from mx1", err, tc.command, tc.code)
			}
			if n := len(mx1.Messages()); n != 0 {
				t.Errorf("mx1 kept %d messages, want none", n)
			}
			if got := len(mx2.Messages()) == 1; got != tc.delivered2 {
				t.Errorf("mx2 got %d messages, want delivered %v", len(mx2.Messages()), tc.delivered2)
			}
		})
	}
}

// RFC 5321 §3.3: recipients are accepted or refused one by one; the
// message goes to those accepted, and the Result says for each refused
// one why, and whether to retry (4yz) or bounce (5yz).
func TestSendPartialRecipients(t *testing.T) {
	const a, b, c = "a@example.com", "b@example.com", "c@example.com"
	for _, tc := range []struct {
		name string
		rcpt map[string]*smtp.SMTPError
		// deliveredBy is the server holding the message ("" none).
		deliveredBy string
		accepted    []string
		// rejected maps refused recipients to ErrTemporary or
		// ErrPermanent and the reply code.
		rejected map[string]refusal
		errIs    error
	}{{
		name:        "RFC5321_3.3_some_refused_delivered_to_the_others",
		rcpt:        map[string]*smtp.SMTPError{b: reply(550, "no such user"), c: reply(452, "too many recipients")},
		deliveredBy: "mx1",
		accepted:    []string{a},
		rejected:    map[string]refusal{b: {deliver.ErrPermanent, 550}, c: {deliver.ErrTemporary, 452}},
	}, {
		name:        "RFC5321_5.1_all_refused_one_temporarily_tries_next_MX",
		rcpt:        map[string]*smtp.SMTPError{a: reply(550, "no such user"), b: reply(450, "busy"), c: reply(550, "no such user")},
		deliveredBy: "mx2",
		accepted:    []string{a, b, c},
	}, {
		name:     "RFC5321_4.2.1_all_refused_permanently_is_permanent",
		rcpt:     map[string]*smtp.SMTPError{a: reply(550, "no such user"), b: reply(551, "moved"), c: reply(553, "bad name")},
		rejected: map[string]refusal{a: {deliver.ErrPermanent, 550}, b: {deliver.ErrPermanent, 551}, c: {deliver.ErrPermanent, 553}},
		errIs:    deliver.ErrPermanent,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := testworld.New(t)
			mx2 := twoMX(t, w)
			mx1 := startScripted(t, w, "mx1.example.com", script{rcpt: tc.rcpt})
			res, err := send(t, newSender(t, w), a, b, c)
			checkErr(t, err, tc.errIs)
			if !slices.Equal(res.Accepted, tc.accepted) {
				t.Errorf("Accepted = %q, want %q", res.Accepted, tc.accepted)
			}
			if len(res.Rejected) != len(tc.rejected) {
				t.Errorf("Rejected = %v, want %d recipients", res.Rejected, len(tc.rejected))
			}
			for rcpt, want := range tc.rejected {
				err := res.Rejected[rcpt]
				var re *deliver.ReplyError
				if !errors.Is(err, want.class) || !errors.As(err, &re) || re.Command != "RCPT" || re.Code != want.code {
					t.Errorf("Rejected[%s] = %v, want %v with RCPT %d", rcpt, err, want.class, want.code)
				}
			}
			got := map[string][]testworld.Message{"mx1": mx1.Messages(), "mx2": mx2.Messages()}
			for name, msgs := range got {
				if name != tc.deliveredBy {
					if len(msgs) != 0 {
						t.Errorf("%s got %d messages, want none", name, len(msgs))
					}
					continue
				}
				if len(msgs) != 1 || !slices.Equal(msgs[0].To, tc.accepted) {
					t.Errorf("%s got %+v, want one message to %q", name, msgs, tc.accepted)
				}
			}
		})
	}
}

// refusal is the expected refusal of one recipient.
type refusal struct {
	class error
	code  int
}

// RFC 5321 §5.1: when an MX host fails for a reason that is about the
// host, not the message, the next one is tried. A host that does not
// answer (§4.5.3.2) is given up after Sender.Timeout, and its attempt says
// "timeout".
func TestSendHostFailureTriesNextMX(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, w *testworld.World)
		outcome deliver.Outcome
	}{
		{"RFC5321_3.1_greeting_554", func(t *testing.T, w *testworld.World) {
			startRaw(t, w, "mx1.example.com", refuseGreeting)
		}, deliver.OutcomeSMTPError},
		{"RFC5321_5.1_MX_address_SERVFAIL", func(t *testing.T, w *testworld.World) {
			w.SMTP("mx1.example.com", testworld.SMTPOptions{})
			w.DNS.SetRcode("mx1.example.com", dns.TypeA, dns.RcodeServerFailure)
		}, deliver.OutcomeConnectFailed},
		{"RFC5321_4.5.3.2_no_greeting", func(t *testing.T, w *testworld.World) {
			startRaw(t, w, "mx1.example.com", silent)
		}, deliver.OutcomeTimeout},
		{"RFC5321_4.5.3.2_stalls_at_RCPT", func(t *testing.T, w *testworld.World) {
			startScripted(t, w, "mx1.example.com", script{stallRcpt: true})
		}, deliver.OutcomeTimeout},
		{"RFC3207_stalls_in_TLS_handshake", func(t *testing.T, w *testworld.World) {
			startRaw(t, w, "mx1.example.com", stallInTLS)
		}, deliver.OutcomeTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := testworld.New(t)
			mx2 := twoMX(t, w)
			tc.setup(t, w)
			s := newSender(t, w)
			s.Timeout = timeout
			start := time.Now()
			res, err := send(t, s)
			elapsed := time.Since(start)
			checkErr(t, err, nil)
			checkAttempts(t, res, []want{
				{"mx1.example.com", tc.outcome, ""},
				{"mx2.example.com", deliver.OutcomeDelivered, ""},
			})
			if len(mx2.Messages()) != 1 {
				t.Errorf("mx2 got %d messages, want 1", len(mx2.Messages()))
			}
			if tc.outcome != deliver.OutcomeTimeout {
				return
			}
			var ne net.Error
			if err := res.Attempts[0].Err; !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("mx1 error %v is not a timeout", err)
			}
			if elapsed < timeout || elapsed > 2*timeout+2*time.Second {
				t.Errorf("Send took %v, want about %v", elapsed, timeout)
			}
		})
	}
}

// A caller that gives up stops the walk: the MX hosts left are not tried,
// and the failure is temporary.
func TestSendCanceledStopsWalk(t *testing.T) {
	w := testworld.New(t)
	mx2 := twoMX(t, w)
	startRaw(t, w, "mx1.example.com", silent)
	s := newSender(t, w)
	s.Timeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err := s.Send(ctx, "a@sender.test", []string{"b@example.com"}, []byte(message))
	checkErr(t, err, deliver.ErrTemporary)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send error %v does not wrap the context's", err)
	}
	checkAttempts(t, res, []want{{"mx1.example.com", deliver.OutcomeTimeout, ""}})
	if len(mx2.Messages()) != 0 {
		t.Error("mx2 was tried after the caller gave up")
	}
}
