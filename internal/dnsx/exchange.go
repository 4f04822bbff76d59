package dnsx

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ednsBufSize is the EDNS0 UDP payload size we advertise: the DNS Flag Day
// 2020 value, which avoids IP fragmentation on common paths.
const ednsBufSize = 1232

// errMalformed marks a reply that cannot be used (bad framing, wrong ID or
// question, unparseable).
var errMalformed = errors.New("malformed reply")

// exchange asks the servers for (name, qtype), name being a canonical FQDN.
// It returns the first reply with rcode NOERROR or NXDOMAIN, and the server
// that sent it. Other rcodes, network errors and timeouts move on to the next
// server, Attempts times round the list. The error is a *net.DNSError.
func (c *Client) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, string, *net.DNSError) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = true
	// RFC 6840 §5.7: setting AD in a query asks the resolver to report in
	// the AD bit of the reply whether it validated the answer, without the
	// DNSSEC records that the DO bit would bring.
	q.AuthenticatedData = true
	q.SetEdns0(ednsBufSize, false)

	var failure *net.DNSError
	answered := false // failure is an rcode: it says more than a silent server
	for attempt := range c.attempts {
		if attempt > 0 && !answered && failure != nil && c.backoff > 0 {
			if err := wait(ctx, backoff(c.backoff, attempt)); err != nil {
				return nil, failure.Server, contextError(name, failure.Server, err)
			}
		}
		for _, server := range c.servers {
			if err := ctx.Err(); err != nil {
				return nil, server, contextError(name, server, err)
			}
			r, err := c.exchangeWith(ctx, server, q)
			if err != nil {
				if cerr := ctx.Err(); cerr != nil {
					return nil, server, contextError(name, server, cerr)
				}
				if !answered {
					failure = exchangeError(name, server, err)
				}
				continue
			}
			switch {
			case lameReferral(r):
				failure, answered = newError(name, server, ErrServerFailure, "lame referral: server is neither authoritative nor recursive", nil), true
			case r.Rcode == dns.RcodeSuccess || r.Rcode == dns.RcodeNameError:
				return r, server, nil
			default:
				failure, answered = newError(name, server, ErrServerFailure, rcodeText(r.Rcode), nil), true
			}
		}
	}
	if failure == nil { // a Client not made by New
		failure = newError(name, "", ErrServerFailure, "no DNS server to ask", nil)
	}
	return nil, failure.Server, failure
}

// backoff returns the wait before round attempt (from 1) of the server
// list: base doubled attempt-1 times, plus up to half of that at random.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base << (attempt - 1)
	return d + rand.N(d/2+1)
}

// wait waits for d, or until ctx ends, with its error.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lameReferral reports whether r is an empty NOERROR reply from a server
// that neither is authoritative nor offers recursion: a referral or a
// misconfigured server, not a proof that the record does not exist. Like
// the C library, try the next server.
func lameReferral(r *dns.Msg) bool {
	return r.Rcode == dns.RcodeSuccess && len(r.Answer) == 0 && !r.Authoritative && !r.RecursionAvailable
}

// exchangeError maps the error of one exchange to a *net.DNSError.
func exchangeError(name, server string, err error) *net.DNSError {
	var ne net.Error
	switch {
	case errors.Is(err, ErrTimeout):
		return newError(name, server, ErrTimeout, "i/o timeout", nil)
	case errors.As(err, &ne) && ne.Timeout():
		return newError(name, server, ErrTimeout, "i/o timeout", err)
	default:
		return newError(name, server, ErrServerFailure, err.Error(), err)
	}
}

// rcodeText describes an error rcode for net.DNSError.Err, naming the rcode.
func rcodeText(rcode int) string {
	name, ok := dns.RcodeToString[rcode]
	if !ok {
		name = fmt.Sprintf("RCODE%d", rcode)
	}
	switch rcode {
	case dns.RcodeServerFailure:
		return "server failure (SERVFAIL)"
	case dns.RcodeRefused:
		return "query refused (REFUSED)"
	case dns.RcodeNameError:
		return "no such domain (NXDOMAIN)"
	default:
		return "server error (" + name + ")"
	}
}

// exchangeWith asks one server: over UDP, then over TCP if the UDP reply was
// truncated. Each transport gets its own timeout.
func (c *Client) exchangeWith(ctx context.Context, server string, q *dns.Msg) (*dns.Msg, error) {
	r, err := c.roundTrip(ctx, "udp", server, q)
	if err == nil && r.Truncated {
		r, err = c.roundTrip(ctx, "tcp", server, q)
	}
	return r, err
}

// roundTrip sends q to server over network ("udp" or "tcp") and reads the
// reply, within c.timeout. It does its own reads rather than using
// dns.Client.ExchangeContext for two reasons: a cancelled context must
// interrupt a blocked read at once (daemon shutdown, abandoned lookups), and
// a UDP datagram that does not answer the question is skipped, not taken as
// the reply, so a stray or forged datagram cannot end the exchange. On timeout it returns an error wrapping ErrTimeout.
func (c *Client) roundTrip(ctx context.Context, network, server string, q *dns.Msg) (*dns.Msg, error) {
	wire, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("packing query: %w", err)
	}
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var d net.Dialer
	conn, err := d.DialContext(actx, network, server)
	if err != nil {
		return nil, attemptError(actx, err)
	}
	defer conn.Close()
	deadline, _ := actx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	// Cancellation of ctx interrupts a blocked read or write at once.
	stop := context.AfterFunc(actx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var r *dns.Msg
	if network == "udp" {
		r, err = readUDP(conn, wire, q)
	} else {
		r, err = readTCP(conn, wire, q)
	}
	if err != nil {
		return nil, attemptError(actx, err)
	}
	return r, nil
}

// attemptError wraps ErrTimeout around err if the attempt's context is done
// (deadline reached, or the caller cancelled: the caller checks its own
// context first).
func attemptError(actx context.Context, err error) error {
	if actx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}

// readUDP sends wire over a UDP conn and returns the reply to q. Datagrams
// that are not a well-formed reply to q are ignored, as they may be forged
// or late answers to an earlier query; the deadline ends the wait.
func readUDP(conn net.Conn, wire []byte, q *dns.Msg) (*dns.Msg, error) {
	if _, err := conn.Write(wire); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		r := new(dns.Msg)
		err = r.Unpack(buf[:n])
		if r.Id != q.Id || !r.Response {
			continue
		}
		if r.Truncated {
			// The records may be cut short; only the TC bit matters.
			return r, nil
		}
		if err == nil && answers(r, q) {
			return r, nil
		}
	}
}

// readTCP sends wire over a TCP conn with its two-byte length prefix
// (RFC 1035 §4.2.2) and returns the reply to q.
func readTCP(conn net.Conn, wire []byte, q *dns.Msg) (*dns.Msg, error) {
	out := make([]byte, 2+len(wire))
	binary.BigEndian.PutUint16(out, uint16(len(wire)))
	copy(out[2:], wire)
	if _, err := conn.Write(out); err != nil {
		return nil, err
	}
	var length [2]byte
	if _, err := io.ReadFull(conn, length[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint16(length[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, err
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if r.Id != q.Id || !r.Response || !answers(r, q) {
		return nil, fmt.Errorf("%w: not a reply to the query", errMalformed)
	}
	return r, nil
}

// answers reports whether r is a reply to the question of q. A reply with an
// error rcode may carry no question (some resolvers answer REFUSED with the
// header only); NOERROR and NXDOMAIN replies must echo the question.
func answers(r, q *dns.Msg) bool {
	if r.Opcode != q.Opcode {
		return false
	}
	if len(r.Question) == 0 {
		return r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError
	}
	a, b := r.Question[0], q.Question[0]
	return len(r.Question) == 1 && a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}
