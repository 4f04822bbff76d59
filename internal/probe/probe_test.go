package probe_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/probe"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// probeWorld probes host in w, trusting w's CA.
func probeWorld(t *testing.T, w *testworld.World, host string, edit func(*probe.Options)) *probe.Result {
	t.Helper()
	opts := probe.Options{Dial: w.DialContext, RootCAs: w.RootCAs(), Timeout: 5 * time.Second}
	if edit != nil {
		edit(&opts)
	}
	return probe.Probe(context.Background(), host, "", opts)
}

// RFC 8461 §4.2: STARTTLS offered, a certificate chained to a trusted root,
// unexpired, with a DNS-ID matching the MX host name. Each case is one MX
// host of one world.
func TestProbe(t *testing.T) {
	w := testworld.New(t)
	rogue := testworld.NewCA(t, "rogue")
	tests := []struct {
		host       string
		opts       testworld.SMTPOptions
		starttls   bool
		version    uint16
		verifyErr  error // sentinel, nil if the chain must verify
		nameMatch  bool
		resultType string
	}{{
		host:     "good.example.com",
		starttls: true, version: tls.VersionTLS13, nameMatch: true,
	}, {
		host:     "plain.example.com",
		opts:     testworld.SMTPOptions{NoSTARTTLS: true},
		starttls: false, resultType: "starttls-not-supported",
	}, {
		// Observed, not judged: RFC 8461 §7.2 is the caller's to apply.
		host:     "tls10.example.com",
		opts:     testworld.SMTPOptions{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10},
		starttls: true, version: tls.VersionTLS10, nameMatch: true,
	}, {
		host:     "tls11.example.com",
		opts:     testworld.SMTPOptions{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11},
		starttls: true, version: tls.VersionTLS11, nameMatch: true,
	}, {
		host:     "tls12.example.com",
		opts:     testworld.SMTPOptions{MaxVersion: tls.VersionTLS12},
		starttls: true, version: tls.VersionTLS12, nameMatch: true,
	}, {
		host:     "tls13.example.com",
		opts:     testworld.SMTPOptions{MinVersion: tls.VersionTLS13},
		starttls: true, version: tls.VersionTLS13, nameMatch: true,
	}, {
		host:     "expired.example.com",
		opts:     testworld.SMTPOptions{Cert: w.CA.Expired(t, "expired.example.com")},
		starttls: true, version: tls.VersionTLS13, verifyErr: probe.ErrCertExpired, nameMatch: true,
		resultType: "certificate-expired",
	}, {
		host:     "future.example.com",
		opts:     testworld.SMTPOptions{Cert: w.CA.NotYetValid(t, "future.example.com")},
		starttls: true, version: tls.VersionTLS13, verifyErr: probe.ErrCertNotYetValid, nameMatch: true,
		resultType: "certificate-expired",
	}, {
		host:     "wrong.example.com",
		opts:     testworld.SMTPOptions{Cert: w.CA.Valid(t, "other.example.com")},
		starttls: true, version: tls.VersionTLS13, nameMatch: false,
		resultType: "certificate-host-mismatch",
	}, {
		// RFC 6125 §6.4.3: the wildcard stands for exactly the left-most label.
		host:     "mx1.example.com",
		opts:     testworld.SMTPOptions{Cert: w.CA.Valid(t, "*.example.com")},
		starttls: true, version: tls.VersionTLS13, nameMatch: true,
	}, {
		host:     "a.b.example.com",
		opts:     testworld.SMTPOptions{Cert: w.CA.Valid(t, "*.example.com")},
		starttls: true, version: tls.VersionTLS13, nameMatch: false,
		resultType: "certificate-host-mismatch",
	}, {
		host:     "MX2.Example.COM.",
		opts:     testworld.SMTPOptions{Cert: w.CA.Valid(t, "mx2.example.com")},
		starttls: true, version: tls.VersionTLS13, nameMatch: true,
	}, {
		host:     "selfsigned.example.com",
		opts:     testworld.SMTPOptions{Cert: testworld.SelfSigned(t, "selfsigned.example.com")},
		starttls: true, version: tls.VersionTLS13, verifyErr: probe.ErrSelfSigned, nameMatch: true,
		resultType: "certificate-not-trusted",
	}, {
		host:     "rogue.example.com",
		opts:     testworld.SMTPOptions{Cert: rogue.Valid(t, "rogue.example.com")},
		starttls: true, version: tls.VersionTLS13, verifyErr: probe.ErrUnknownAuthority, nameMatch: true,
		resultType: "certificate-not-trusted",
	}, {
		// A chain failure is reported before a name mismatch.
		host:     "worst.example.com",
		opts:     testworld.SMTPOptions{Cert: rogue.Expired(t, "other.example.com")},
		starttls: true, version: tls.VersionTLS13, verifyErr: probe.ErrCertExpired, nameMatch: false,
		resultType: "certificate-expired",
	}}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			w.SMTP(tt.host, tt.opts)
			r := probeWorld(t, w, tt.host, nil)
			if r.Err != nil {
				t.Fatalf("Err = %v", r.Err)
			}
			if r.Host != tt.host {
				t.Errorf("Host = %q", r.Host)
			}
			ip := w.HostIP(tt.host).String()
			if !strings.HasPrefix(r.Addr, ip+":") {
				t.Errorf("Addr = %q, want %s:port", r.Addr, ip)
			}
			if !strings.Contains(r.Banner, "ESMTP") || r.EHLOName == "" {
				t.Errorf("Banner = %q, EHLOName = %q", r.Banner, r.EHLOName)
			}
			if r.STARTTLS != tt.starttls || slices.Contains(r.Extensions, "STARTTLS") != tt.starttls {
				t.Errorf("STARTTLS = %v, Extensions = %q; want STARTTLS %v", r.STARTTLS, r.Extensions, tt.starttls)
			}
			if r.TLSVersion != tt.version {
				t.Errorf("TLSVersion = %s, want %s", r.TLSVersionName(), tls.VersionName(tt.version))
			}
			if got := r.ResultType(); got != tt.resultType {
				t.Errorf("ResultType() = %q, want %q (VerifyError: %v, NameError: %v)",
					got, tt.resultType, r.VerifyError, r.NameError)
			}
			if !tt.starttls {
				if r.Chain != nil || r.CipherSuiteName() != "" || r.TLSVersionName() != "" {
					t.Errorf("TLS facts without TLS: %+v", r)
				}
				return
			}
			if r.CipherSuiteName() == "" || strings.HasPrefix(r.CipherSuiteName(), "0x") {
				t.Errorf("CipherSuiteName() = %q", r.CipherSuiteName())
			}
			if len(r.Chain) == 0 || !r.NotAfter.Equal(r.Chain[0].NotAfter) {
				t.Fatalf("Chain = %d certificates, NotAfter = %v", len(r.Chain), r.NotAfter)
			}
			if tt.verifyErr == nil {
				if !r.Verified || r.VerifyError != nil {
					t.Errorf("Verified = %v, VerifyError = %v", r.Verified, r.VerifyError)
				}
			} else if r.Verified || !errors.Is(r.VerifyError, tt.verifyErr) {
				t.Errorf("Verified = %v, VerifyError = %v; want %v", r.Verified, r.VerifyError, tt.verifyErr)
			}
			if r.NameMatch != tt.nameMatch || (r.NameError == nil) != tt.nameMatch {
				t.Errorf("NameMatch = %v, NameError = %v; want match %v", r.NameMatch, r.NameError, tt.nameMatch)
			}
			if r.NameError != nil && !errors.Is(r.NameError, probe.ErrHostMismatch) {
				t.Errorf("NameError = %v, want ErrHostMismatch", r.NameError)
			}
		})
	}
}

// The chain is judged at Options.Now, not at the time of the probe.
func TestProbeNow(t *testing.T) {
	w := testworld.New(t)
	w.SMTP("mx.example.com", testworld.SMTPOptions{})
	later := time.Now().AddDate(1, 0, 0)
	r := probeWorld(t, w, "mx.example.com", func(o *probe.Options) {
		o.Now = func() time.Time { return later }
	})
	if r.Err != nil || !errors.Is(r.VerifyError, probe.ErrCertExpired) || r.ResultType() != "certificate-expired" {
		t.Errorf("Err = %v, VerifyError = %v, ResultType() = %q", r.Err, r.VerifyError, r.ResultType())
	}
}

// Given an address, the probe connects there but judges the certificate
// against the host name.
func TestProbeAddress(t *testing.T) {
	w := testworld.New(t)
	w.SMTP("mx.example.com", testworld.SMTPOptions{})
	ip := w.HostIP("mx.example.com").String()
	opts := probe.Options{Dial: w.DialContext, RootCAs: w.RootCAs(), Timeout: 5 * time.Second}
	r := probe.Probe(context.Background(), "mx.example.com", ip, opts)
	if r.Err != nil || !r.Verified || !r.NameMatch || !strings.HasPrefix(r.Addr, ip+":") {
		t.Errorf("Err = %v, Verified = %v, NameMatch = %v, Addr = %q", r.Err, r.Verified, r.NameMatch, r.Addr)
	}
	// Without RootCAs the system roots know nothing of the world's CA.
	opts.RootCAs = nil
	r = probe.Probe(context.Background(), "mx.example.com", ip, opts)
	if r.Err != nil || !errors.Is(r.VerifyError, probe.ErrUnknownAuthority) || !r.NameMatch {
		t.Errorf("system roots: Err = %v, VerifyError = %v, NameMatch = %v", r.Err, r.VerifyError, r.NameMatch)
	}
}

func TestProbeConnectionRefused(t *testing.T) {
	w := testworld.New(t)
	w.SMTP("mx.example.com", testworld.SMTPOptions{})
	r := probeWorld(t, w, "mx.example.com", func(o *probe.Options) { o.Port = "26" })
	var perr *probe.Error
	if !errors.As(r.Err, &perr) || perr.Stage != probe.StageConnect {
		t.Fatalf("Err = %v, want a connect failure", r.Err)
	}
	if r.ResultType() != "" || r.Addr != "" || r.Banner != "" {
		t.Errorf("ResultType() = %q, Addr = %q, Banner = %q", r.ResultType(), r.Addr, r.Banner)
	}
}

func TestProbeUnknownHost(t *testing.T) {
	w := testworld.New(t)
	r := probeWorld(t, w, "nowhere.example.com", nil)
	var dnsErr *net.DNSError
	if !errors.As(r.Err, &dnsErr) || !strings.Contains(r.Err.Error(), "probe: connect:") {
		t.Errorf("Err = %v, want a connect failure from DNS", r.Err)
	}
}

// silentMX puts an MX host into w that accepts one connection and never
// says a word.
func silentMX(t *testing.T, w *testworld.World, host string) {
	l := w.Listen(host, 25)
	held := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			held <- c
		}
	}()
	t.Cleanup(func() {
		select {
		case c := <-held:
			c.Close()
		default:
		}
	})
}

// A server that accepts the connection and never greets: the probe gives
// up at its Timeout, at the banner stage.
func TestProbeSilentServer(t *testing.T) {
	w := testworld.New(t)
	silentMX(t, w, "silent.example.com")
	const timeout = 200 * time.Millisecond
	r := probeWorld(t, w, "silent.example.com", func(o *probe.Options) { o.Timeout = timeout })
	var perr *probe.Error
	if !errors.As(r.Err, &perr) || perr.Stage != probe.StageBanner {
		t.Fatalf("Err = %v, want a banner failure", r.Err)
	}
	if !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Errorf("Err = %v, want context.DeadlineExceeded", r.Err)
	}
	if r.Duration < timeout || r.Duration > timeout+2*time.Second {
		t.Errorf("Duration = %v, want about %v", r.Duration, timeout)
	}
}

// Cancelling the caller's context ends a probe at once.
func TestProbeCancel(t *testing.T) {
	w := testworld.New(t)
	silentMX(t, w, "silent.example.com")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	opts := probe.Options{Dial: w.DialContext, RootCAs: w.RootCAs()} // default Timeout, 30s
	r := probe.Probe(ctx, "silent.example.com", "", opts)
	if !errors.Is(r.Err, context.Canceled) || r.Duration > 5*time.Second {
		t.Errorf("Err = %v after %v, want context.Canceled at once", r.Err, r.Duration)
	}
}

func TestProbeNothing(t *testing.T) {
	r := probe.Probe(context.Background(), "", "", probe.Options{})
	var perr *probe.Error
	if !errors.As(r.Err, &perr) || perr.Stage != probe.StageConnect || r.Addr != "" {
		t.Errorf("Err = %v, Addr = %q; want a connect failure", r.Err, r.Addr)
	}
}
