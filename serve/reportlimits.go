package serve

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mtasts/mtasts/ingest"
	"github.com/mtasts/mtasts/reportstore"
)

// ReportLimits are the bounds of the report endpoint of [serve.reports],
// which anyone may POST to, and of the quarantine where what is not a
// report is kept.
type ReportLimits struct {
	// MaxBody caps a POSTed body, in bytes.
	MaxBody int64
	// Memory bounds what all report POSTs may hold at once for their
	// bodies and parsing, in bytes.
	Memory int64
	// MaxPerClient bounds the POSTs of one client in progress at once.
	MaxPerClient int
	// RejectBurst and RejectInterval bound the bodies of one client that
	// are not reports: a burst, then one per interval.
	RejectBurst    int
	RejectInterval time.Duration
	// MinBodyRate is the slowest a body may arrive, in bytes a second,
	// after the read timeout of [serve.limits].
	MinBodyRate int64
	// TrustedProxies are the reverse proxies believed about the client's
	// address (X-Forwarded-For).
	TrustedProxies []netip.Prefix
	// Quarantine bounds the quarantine.
	Quarantine reportstore.QuarantineLimits
	// SMTPMaxConns and SMTPMaxConnsPerIP bound the connections of the
	// report mail listener open at once, in all and from one client;
	// beyond them a connection is answered 421 and closed.
	SMTPMaxConns, SMTPMaxConnsPerIP int
	// SMTPTimeout bounds each read and write of a report mail
	// connection, SMTPSessionTimeout the whole connection.
	SMTPTimeout, SMTPSessionTimeout time.Duration
}

type reportLimitsSyntax struct {
	MaxBody              int64    `toml:"max_body"`
	MemoryLimit          int64    `toml:"memory_limit"`
	MaxPerClient         int      `toml:"max_per_client"`
	RejectBurst          int      `toml:"reject_burst"`
	RejectInterval       duration `toml:"reject_interval"`
	MinBodyRate          int64    `toml:"min_body_rate"`
	TrustedProxies       []string `toml:"trusted_proxies"`
	QuarantineMaxBytes   int64    `toml:"quarantine_max_bytes"`
	QuarantineMaxEntries int64    `toml:"quarantine_max_entries"`
	QuarantinePrefix     int      `toml:"quarantine_prefix"`
	SMTPMaxConns         int      `toml:"smtp_max_conns"`
	SMTPMaxConnsPerIP    int      `toml:"smtp_max_conns_per_ip"`
	SMTPTimeout          duration `toml:"smtp_timeout"`
	SMTPSessionTimeout   duration `toml:"smtp_session_timeout"`
}

// defaultReportLimits are the limits of a file that sets none.
func defaultReportLimits() reportLimitsSyntax {
	return reportLimitsSyntax{
		MaxBody:              ingest.DefaultMaxBody,
		MemoryLimit:          ingest.DefaultMemory,
		MaxPerClient:         ingest.DefaultMaxPerClient,
		RejectBurst:          ingest.DefaultRejectBurst,
		RejectInterval:       duration{ingest.DefaultRejectInterval},
		MinBodyRate:          ingest.DefaultMinBodyRate,
		QuarantineMaxBytes:   256 << 20,
		QuarantineMaxEntries: 10000,
		QuarantinePrefix:     reportstore.DefaultQuarantinePrefix,
		SMTPMaxConns:         ingest.DefaultSMTPMaxConns,
		SMTPMaxConnsPerIP:    ingest.DefaultSMTPMaxConnsPerClient,
		SMTPTimeout:          duration{ingest.DefaultSMTPTimeout},
		SMTPSessionTimeout:   duration{ingest.DefaultSMTPSessionTimeout},
	}
}

// limits checks the settings and turns them into ReportLimits.
func (s *reportLimitsSyntax) limits() (ReportLimits, error) {
	l := ReportLimits{
		MaxBody: s.MaxBody, Memory: s.MemoryLimit, MaxPerClient: s.MaxPerClient,
		RejectBurst: s.RejectBurst, RejectInterval: s.RejectInterval.Duration, MinBodyRate: s.MinBodyRate,
		Quarantine:   reportstore.QuarantineLimits{MaxBytes: s.QuarantineMaxBytes, MaxEntries: s.QuarantineMaxEntries, Prefix: s.QuarantinePrefix},
		SMTPMaxConns: s.SMTPMaxConns, SMTPMaxConnsPerIP: s.SMTPMaxConnsPerIP,
		SMTPTimeout: s.SMTPTimeout.Duration, SMTPSessionTimeout: s.SMTPSessionTimeout.Duration,
	}
	var errs []error
	positive := func(key string, v int64) {
		if v <= 0 {
			errs = append(errs, &settingError{"serve.reports." + key, fmt.Errorf("%d: must be more than 0", v)})
		}
	}
	positive("max_body", s.MaxBody)
	positive("memory_limit", s.MemoryLimit)
	positive("max_per_client", int64(s.MaxPerClient))
	positive("reject_burst", int64(s.RejectBurst))
	positive("reject_interval", int64(s.RejectInterval.Duration))
	positive("min_body_rate", s.MinBodyRate)
	positive("quarantine_prefix", int64(s.QuarantinePrefix))
	positive("smtp_max_conns", int64(s.SMTPMaxConns))
	positive("smtp_max_conns_per_ip", int64(s.SMTPMaxConnsPerIP))
	positive("smtp_timeout", int64(s.SMTPTimeout.Duration))
	positive("smtp_session_timeout", int64(s.SMTPSessionTimeout.Duration))
	for key, v := range map[string]int64{"quarantine_max_bytes": s.QuarantineMaxBytes, "quarantine_max_entries": s.QuarantineMaxEntries} {
		if v < 0 {
			errs = append(errs, &settingError{"serve.reports." + key, fmt.Errorf("%d: must not be negative (0 means no bound)", v)})
		}
	}
	if s.SMTPMaxConnsPerIP > s.SMTPMaxConns && s.SMTPMaxConns > 0 {
		errs = append(errs, &settingError{"serve.reports.smtp_max_conns_per_ip", fmt.Errorf("%d is more than smtp_max_conns (%d)", s.SMTPMaxConnsPerIP, s.SMTPMaxConns)})
	}
	if s.MaxBody > 0 && s.MemoryLimit < 2*s.MaxBody {
		errs = append(errs, &settingError{"serve.reports.memory_limit", fmt.Errorf("%d is less than twice max_body (%d): a report of that size could never be read", s.MemoryLimit, s.MaxBody)})
	}
	for _, p := range s.TrustedProxies {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				errs = append(errs, &settingError{"serve.reports.trusted_proxies", fmt.Errorf("%q is neither an address nor a prefix such as 10.0.0.0/8", p)})
				continue
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		l.TrustedProxies = append(l.TrustedProxies, prefix.Masked())
	}
	return l, errors.Join(errs...)
}

// HandlerOptions returns the options of the report endpoint, with
// bodyTimeout, the read timeout of [serve.limits].
func (l ReportLimits) HandlerOptions(bodyTimeout time.Duration) ingest.HandlerOptions {
	return ingest.HandlerOptions{
		MaxBody: l.MaxBody, Memory: l.Memory, MaxPerClient: l.MaxPerClient,
		RejectBurst: l.RejectBurst, RejectInterval: l.RejectInterval,
		BodyTimeout: bodyTimeout, MinBodyRate: l.MinBodyRate, TrustedProxies: l.TrustedProxies,
	}
}
