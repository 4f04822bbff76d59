package tlsrptsend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/mtasts/mtasts/tlsrpt"
)

// The datagrams of libtlsrpt, the library through which Postfix 3.10 and
// later report the TLS result of each delivery (smtp_tlsrpt_enable,
// smtp_tlsrpt_socket_name). Each is one JSON object sent to a UNIX
// datagram socket, version "1" ("dpv"): the recipient domain ("d"), its
// _smtp._tls record ("pr"), and one entry per policy applied in the
// delivery attempt with the policy's RFC 8460 §4.4 fields, the number of
// failures ("t"), the final result ("f": 0 success, 1 failure) and the
// failure details under one-letter keys with the result type as a number
// ("c": 201 starttls-not-supported ... 306 dane-required). Each policy
// entry counts one session, as the reference collector (tlsrpt-reporter)
// counts it.

// maxDatagram bounds a datagram; libtlsrpt's own buffer is 65 000 bytes.
const maxDatagram = 64 << 10

// ErrDatagram is wrapped by the errors of ParseDatagram.
var ErrDatagram = errors.New("tlsrptsend: invalid libtlsrpt datagram")

// DatagramError says what is wrong in a datagram: Field names the member
// by its path, such as "policies[0].failure-details[1].c".
type DatagramError struct {
	Field  string
	Reason string
}

func (e *DatagramError) Error() string {
	if e.Field == "" {
		return ErrDatagram.Error() + ": " + e.Reason
	}
	return ErrDatagram.Error() + ": " + e.Field + ": " + e.Reason
}

// Is reports whether target is ErrDatagram.
func (e *DatagramError) Is(target error) bool { return target == ErrDatagram }

// wireDatagram is a datagram as libtlsrpt writes it.
type wireDatagram struct {
	Version  *string      `json:"dpv"`
	Domain   *string      `json:"d"`
	Record   *string      `json:"pr"`
	Policies []wireDGPoli `json:"policies"`
}

type wireDGPoli struct {
	Type     *int            `json:"policy-type"`
	Domain   string          `json:"policy-domain"`
	Strings  []string        `json:"policy-string"`
	MXHosts  []string        `json:"mx-host"`
	Failures []wireDGFailure `json:"failure-details"`
	Count    *int            `json:"t"`
	Final    *int            `json:"f"`
}

type wireDGFailure struct {
	Code       *int   `json:"c"`
	SendingIP  string `json:"s"`
	MXHost     string `json:"n"`
	MXHelo     string `json:"h"`
	ReceivedIP string `json:"r"`
	Additional string `json:"a"`
	ReasonCode string `json:"f"`
}

// datagramPolicyTypes are libtlsrpt's policy type numbers.
var datagramPolicyTypes = map[int]tlsrpt.PolicyType{1: tlsrpt.PolicyTLSA, 2: tlsrpt.PolicySTS, 9: tlsrpt.PolicyNoPolicyFound}

// datagramResults are libtlsrpt's failure codes, the result types of RFC
// 8460 §4.3.
var datagramResults = map[int]tlsrpt.ResultType{
	201: tlsrpt.ResultSTARTTLSNotSupported, 202: tlsrpt.ResultCertificateHostMismatch,
	203: tlsrpt.ResultCertificateNotTrusted, 204: tlsrpt.ResultCertificateExpired, 205: tlsrpt.ResultValidationFailure,
	301: tlsrpt.ResultSTSPolicyFetchError, 302: tlsrpt.ResultSTSPolicyInvalid, 303: tlsrpt.ResultSTSWebPKIInvalid,
	304: tlsrpt.ResultTLSAInvalid, 305: tlsrpt.ResultDNSSECInvalid, 306: tlsrpt.ResultDANERequired,
}

// ParseDatagram reads one libtlsrpt datagram received at t and returns
// its outcomes, one per policy entry: a success, or a failure with the
// first of its failure details (a delivery attempt is one session per
// policy; libtlsrpt lists every failure of the attempt, usually one).
// Unknown members, versions, policy types and failure codes are errors,
// as are counts that do not add up.
func ParseDatagram(b []byte, t time.Time) ([]Outcome, error) {
	bad := func(field, format string, args ...any) error {
		return &DatagramError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if len(b) > maxDatagram {
		return nil, bad("", "%d bytes, more than %d", len(b), maxDatagram)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wireDatagram
	if err := dec.Decode(&w); err != nil {
		return nil, &DatagramError{Reason: err.Error()}
	}
	if dec.More() {
		return nil, bad("", "data after the JSON object")
	}
	switch {
	case w.Version == nil:
		return nil, bad("dpv", "missing")
	case *w.Version != "1":
		return nil, bad("dpv", "version %q, only \"1\" is known", *w.Version)
	case w.Domain == nil || normalDomain(*w.Domain) == "":
		return nil, bad("d", "no recipient domain")
	case w.Record == nil:
		return nil, bad("pr", "missing")
	case len(w.Policies) == 0:
		return nil, bad("policies", "none")
	}
	var out []Outcome
	for i, p := range w.Policies {
		at := "policies[" + strconv.Itoa(i) + "]"
		pt, ok := datagramPolicyTypes[deref(p.Type)]
		switch {
		case p.Type == nil:
			return nil, bad(at+".policy-type", "missing")
		case !ok:
			return nil, bad(at+".policy-type", "%d is not 1 (tlsa), 2 (sts) or 9 (no-policy-found)", *p.Type)
		case p.Count == nil || p.Final == nil:
			return nil, bad(at, "no failure count (t) or final result (f)")
		case *p.Count != len(p.Failures):
			return nil, bad(at+".t", "%d failures counted, %d listed", *p.Count, len(p.Failures))
		case *p.Final != 0 && *p.Final != 1:
			return nil, bad(at+".f", "final result %d is neither 0 (success) nor 1 (failure)", *p.Final)
		case *p.Final == 1 && len(p.Failures) == 0:
			return nil, bad(at+".f", "a failure without failure details")
		}
		domain := p.Domain
		if domain == "" {
			domain = *w.Domain
		}
		o := Outcome{Time: t, Policy: tlsrpt.Policy{Type: pt, Domain: normalDomain(domain), Strings: p.Strings, MXHosts: p.MXHosts}}
		for j, f := range p.Failures {
			fat := at + ".failure-details[" + strconv.Itoa(j) + "]"
			rt, ok := datagramResults[deref(f.Code)]
			if !ok {
				return nil, bad(fat+".c", "failure code %d is not a result type of RFC 8460 §4.3", deref(f.Code))
			}
			sip, err := optionalAddr(f.SendingIP)
			if err != nil {
				return nil, bad(fat+".s", "%v", err)
			}
			rip, err := optionalAddr(f.ReceivedIP)
			if err != nil {
				return nil, bad(fat+".r", "%v", err)
			}
			if j == 0 && *p.Final == 1 {
				o.Result, o.SendingIP, o.ReceivingIP, o.MXHost = rt, sip, rip, normalDomain(f.MXHost)
				o.AdditionalInfo, o.ReasonCode = f.Additional, f.ReasonCode
			}
		}
		out = append(out, o)
	}
	return out, nil
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// optionalAddr parses an IP address; "" is the zero Addr.
func optionalAddr(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	return netip.ParseAddr(s)
}

// DatagramSocket is the Source of the outcomes that Postfix 3.10 and
// later send through libtlsrpt: a UNIX datagram socket at Path, which
// Postfix's smtp_tlsrpt_socket_name names. Outcomes are stamped with the
// time they are received.
type DatagramSocket struct {
	Path string
	// Mode is the socket's permissions; 0 means 0666, Postfix's smtp(8)
	// running as another user: the directory's permissions say who may
	// reach it.
	Mode os.FileMode
	Now  func() time.Time // time.Now if nil
	Log  *slog.Logger     // invalid datagrams are logged here, if set

	// Bound, if set, is closed once the socket is bound.
	Bound chan<- struct{}
}

// Run binds the socket (removing a stale one) and records the outcomes
// of every datagram until ctx is done.
func (d *DatagramSocket) Run(ctx context.Context, rec Recorder) error {
	if err := os.Remove(d.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("tlsrptsend: libtlsrpt socket: %w", err)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: d.Path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("tlsrptsend: libtlsrpt socket: %w", err)
	}
	defer os.Remove(d.Path)
	mode := d.Mode
	if mode == 0 {
		mode = 0o666
	}
	if err := os.Chmod(d.Path, mode); err != nil {
		conn.Close()
		return fmt.Errorf("tlsrptsend: libtlsrpt socket: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if d.Bound != nil {
		close(d.Bound)
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	buf := make([]byte, maxDatagram+1)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("tlsrptsend: libtlsrpt socket: %w", err)
		}
		outcomes, err := ParseDatagram(buf[:n], now())
		if err != nil {
			if d.Log != nil {
				d.Log.Warn("libtlsrpt datagram ignored", "err", err)
			}
			continue
		}
		for _, o := range outcomes {
			rec.Record(o)
		}
	}
}
