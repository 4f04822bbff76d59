package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// DKIMPolicy decides what DKIM signatures of report mail count for.
type DKIMPolicy string

// DKIM policies.
const (
	// DKIMCheck checks signatures and records the result; unsigned
	// reports are accepted. The zero DKIMPolicy means DKIMCheck.
	DKIMCheck DKIMPolicy = "check"
	// DKIMRequire quarantines report mail without a valid signature of a
	// domain aligned with TLS-Report-Submitter (RFC 8460 §5.3).
	DKIMRequire DKIMPolicy = "require"
	// DKIMOff does not check signatures.
	DKIMOff DKIMPolicy = "off"
)

// ParseDKIMPolicy reads "check", "require" or "off".
func ParseDKIMPolicy(s string) (DKIMPolicy, error) {
	switch p := DKIMPolicy(s); p {
	case DKIMCheck, DKIMRequire, DKIMOff:
		return p, nil
	case "":
		return DKIMCheck, nil
	}
	return "", fmt.Errorf("ingest: DKIM policy %q: want check, require or off", s)
}

// Store is where an Ingester puts what it receives: a
// *reportstore.Store.
type Store interface {
	// AddBatch stores submissions and says what became of each once it
	// is committed.
	AddBatch(ctx context.Context, subs []*reportstore.Submission) []reportstore.Result
}

// Config configures an Ingester.
type Config struct {
	// Store receives the reports. Required.
	Store Store
	// DKIM decides what DKIM signatures of report mail count for.
	DKIM DKIMPolicy
	// LookupTXT looks up the DKIM keys (RFC 6376 §3.6.2.2); nil means
	// net.DefaultResolver.
	LookupTXT func(ctx context.Context, name string) ([]string, error)
	// MaxSize caps a report after decompression as tlsrpt.ParseOptions
	// does; a mail may be twice that. 0 means tlsrpt.DefaultMaxSize.
	MaxSize int64
	// Metrics, if not nil, counts the reports received.
	Metrics *Metrics
	// Logger logs each input stored; nil means no logging.
	Logger *slog.Logger
	// Now stamps arrivals; nil means time.Now.
	Now func() time.Time
}

// Ingester parses, checks and stores reports. It is safe for concurrent
// use.
type Ingester struct {
	cfg Config
	log *slog.Logger
}

// New returns an Ingester for cfg.
func New(cfg Config) (*Ingester, error) {
	if cfg.Store == nil {
		return nil, errors.New("ingest: Config.Store is required")
	}
	var err error
	if cfg.DKIM, err = ParseDKIMPolicy(string(cfg.DKIM)); err != nil {
		return nil, err
	}
	if cfg.LookupTXT == nil {
		cfg.LookupTXT = net.DefaultResolver.LookupTXT
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = tlsrpt.DefaultMaxSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Ingester{cfg: cfg, log: log}, nil
}

// Kind says what an input is.
type Kind int

// Kinds of input.
const (
	KindReport Kind = iota // a report: JSON, or gzipped JSON
	KindMail               // a mail holding a report (RFC 8460 §5.3)
)

// Input is one thing that may be a report.
type Input struct {
	Data   []byte
	Kind   Kind
	Source reportstore.Source
	// Origin says where Data came from, for people (a file, an address).
	Origin string

	// res, if not nil, is charged the memory of parsing (see parseReport).
	res *reservation
}

// Outcome is what became of an Input.
type Outcome struct {
	reportstore.Result
	// ParseErr is why the input was quarantined, when it could not be
	// parsed (it matches tlsrpt.ErrReportSyntax, ErrReportTooLarge or
	// ErrNoReport), or nil.
	ParseErr error
	// Diagnostics are the deviations the parser tolerated.
	Diagnostics []tlsrpt.Diagnostic
	// Mail is what a report mail said, with the DKIM result.
	Mail *reportstore.MailInfo
	// DKIMReason is why the DKIM result of a mail is not a pass, such as
	// a key that could not be looked up; it is not stored.
	DKIMReason string

	report *tlsrpt.Report
}

// ErrTemporary wraps errors after which the input should be offered
// again later: nothing was stored.
var ErrTemporary = errors.New("ingest: temporary failure, nothing stored")

// Ingest parses, checks and stores one input and returns once it is
// committed. An error (matching ErrTemporary) means nothing was stored.
func (in *Ingester) Ingest(ctx context.Context, input Input) (*Outcome, error) {
	outs := in.IngestBatch(ctx, []Input{input})
	return outs[0], outs[0].Err
}

// IngestBatch is Ingest for several inputs, stored in one transaction when
// possible. The Err of each Outcome says whether it failed.
func (in *Ingester) IngestBatch(ctx context.Context, inputs []Input) []*Outcome {
	outs := make([]*Outcome, len(inputs))
	var subs []*reportstore.Submission
	var idx []int
	for i, input := range inputs {
		sub, out := in.prepare(ctx, input)
		outs[i] = out
		if out.Err == nil {
			subs = append(subs, sub)
			idx = append(idx, i)
		}
	}
	if len(subs) > 0 {
		for j, r := range in.cfg.Store.AddBatch(ctx, subs) {
			out := outs[idx[j]]
			out.Result = r
			if r.Err != nil {
				out.Err = fmt.Errorf("%w: %w", ErrTemporary, r.Err)
			}
		}
	}
	for i, out := range outs {
		if errors.Is(out.Err, errBusy) {
			continue // refused, not received: the handler counts and logs it
		}
		in.cfg.Metrics.observe(inputs[i].Source, out)
		in.logOutcome(inputs[i], out)
	}
	return outs
}

func (in *Ingester) logOutcome(input Input, out *Outcome) {
	attrs := []any{"source", input.Source, "origin", input.Origin}
	switch {
	case out.Err != nil:
		in.log.Warn("report not stored", append(attrs, "err", out.Err)...)
	case out.Outcome == reportstore.Quarantined:
		in.log.Warn("input quarantined", append(attrs, "id", out.ID, "reason", out.Reason)...)
		if out.Evicted > 0 {
			in.log.Warn("quarantine full: oldest entries evicted to make room", "evicted", out.Evicted, "id", out.ID)
		}
	default:
		in.log.Info("report stored", append(attrs, "outcome", out.Outcome, "id", out.ID, "diagnostics", len(out.Diagnostics))...)
	}
}

// prepare parses and checks input into a submission.
func (in *Ingester) prepare(ctx context.Context, input Input) (*reportstore.Submission, *Outcome) {
	sub := &reportstore.Submission{Raw: input.Data, Source: input.Source, Origin: input.Origin, Received: in.cfg.Now()}
	out := &Outcome{}
	opts := tlsrpt.ParseOptions{MaxSize: in.cfg.MaxSize}
	switch input.Kind {
	case KindMail:
		sub.RawType = "message/rfc822"
		mail := &reportstore.MailInfo{DKIM: reportstore.DKIMSkipped}
		out.Mail, sub.Mail = mail, mail
		mr, err := tlsrpt.ParseMessage(bytes.NewReader(input.Data), opts)
		if err != nil {
			out.ParseErr = err
			break
		}
		mail.Domain, mail.Submitter, mail.Subject, mail.MessageID = mr.Domain, mr.Submitter, mr.Subject, mr.MessageID
		if in.cfg.DKIM != DKIMOff {
			mail.DKIM, mail.DKIMDomain, out.DKIMReason = in.checkDKIM(ctx, input.Data, submitterOf(mr))
		}
		if in.cfg.DKIM == DKIMRequire && mail.DKIM != reportstore.DKIMPass {
			if mail.DKIM == reportstore.DKIMTempError {
				out.Err = fmt.Errorf("%w: DKIM key lookup failed", ErrTemporary)
				return nil, out
			}
			sub.Reason = fmt.Sprintf("DKIM %s (%s): no valid signature of the submitter %q, and DKIM is required (RFC 8460 §5.3)", mail.DKIM, out.DKIMReason, submitterOf(mr))
			break
		}
		sub.Report, sub.Diagnostics = mr.Report, mr.Diagnostics
	default:
		sub.RawType = tlsrpt.MediaTypeJSON
		if bytes.HasPrefix(input.Data, []byte{0x1f, 0x8b}) {
			sub.RawType = tlsrpt.MediaTypeGzip
		}
		rep, diags, err := parseReport(input.Data, in.cfg.MaxSize, input.res)
		if errors.Is(err, errBusy) {
			out.Err = fmt.Errorf("%w: %w", ErrTemporary, err)
			return nil, out
		}
		if err != nil {
			out.ParseErr = err
			break
		}
		sub.Report, sub.Diagnostics = rep, diags
	}
	if out.ParseErr != nil {
		sub.Reason = out.ParseErr.Error()
		sub.Garbage = !looksLikeReport(input)
	}
	out.Diagnostics, out.report = sub.Diagnostics, sub.Report
	return sub, out
}

// readLimited reads r up to limit bytes; more is an error matching
// tlsrpt.ErrReportTooLarge.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	return readLimitedInto(nil, r, limit)
}

// readLimitedInto is readLimited appending to buf.
func readLimitedInto(buf []byte, r io.Reader, limit int64) ([]byte, error) {
	w := bytes.NewBuffer(buf)
	if _, err := w.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return nil, err
	}
	if int64(w.Len()) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", tlsrpt.ErrReportTooLarge, limit)
	}
	return w.Bytes(), nil
}

// maxMail is the largest mail accepted: tlsrpt.ParseMessage reads up to
// twice the report size.
func (in *Ingester) maxMail() int64 { return 2*in.cfg.MaxSize + 64<<10 }
