package rollout

import (
	"time"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/sts"
)

// Status is the readiness of a domain for mode enforce.
type Status string

// Values of Status.
const (
	// Ready: the reports of the window show no failure above the
	// thresholds, enough independent organisations reported, and every
	// live MX host is covered by the policy and validates now (RFC 8461
	// §4). Switching to enforce cuts no sender off.
	Ready Status = "ready"
	// NotReady: at least one blocking reason; each says what to fix.
	NotReady Status = "not-ready"
	// InsufficientData: nothing blocks, but too few organisations,
	// sessions or days of reports to judge.
	InsufficientData Status = "insufficient-data"
)

// Code identifies a kind of reason; codes are stable.
type Code string

// Reason codes. The blocking ones make a verdict NotReady; the others
// make it InsufficientData.
const (
	// CodeCheckFailed: the live check of the domain could not run.
	CodeCheckFailed Code = "check-failed"
	// CodeNoLiveMX: the check found no MX host to judge.
	CodeNoLiveMX Code = "no-live-mx"
	// CodeMXNotCovered: a live MX host matches no mx pattern of the
	// served policy (RFC 8461 §4.1).
	CodeMXNotCovered Code = "mx-not-covered"
	// CodeMXFailsValidation: a live MX host fails validation now (RFC
	// 8461 §4.2: STARTTLS, certificate chain, name, expiry, TLS version).
	CodeMXFailsValidation Code = "mx-fails-validation"
	// CodeMXNeverSucceeded: reports name failures for an MX host of the
	// policy and no sender was seen delivering through it.
	CodeMXNeverSucceeded Code = "mx-never-succeeded"
	// CodeMXFailures: one result type of one MX host failed more sessions
	// than Thresholds.MaxFailureRate allows.
	CodeMXFailures Code = "mx-failures"
	// CodePolicyFailures: senders failed to fetch or use the policy
	// itself (sts-policy-fetch-error, sts-policy-invalid,
	// sts-webpki-invalid, RFC 8460 §4.3.2) more than MaxFailureRate
	// allows.
	CodePolicyFailures Code = "policy-failures"
	// CodeOrganizationFailures: one sending organisation failed more of
	// its sessions than Thresholds.MaxOrganizationFailureRate allows.
	CodeOrganizationFailures Code = "organization-failures"

	// CodeTooFewOrganizations: fewer independent organisations reported
	// sessions than Thresholds.MinOrganizations.
	CodeTooFewOrganizations Code = "too-few-organizations"
	// CodeTooFewSessions: the reports count fewer sessions than
	// Thresholds.MinSessions.
	CodeTooFewSessions Code = "too-few-sessions"
	// CodeTooFewDays: reports cover fewer days than Thresholds.MinDays.
	CodeTooFewDays Code = "too-few-days"
)

// Reason is one thing that keeps a domain from being Ready. Message says
// what was seen, with the numbers, and what to do about it.
type Reason struct {
	Code         Code   `json:"code"`
	Message      string `json:"message"`
	MXHost       string `json:"mx_host,omitempty"`
	ResultType   string `json:"result_type,omitempty"`
	Organization string `json:"organization,omitempty"`
	// Sessions and Failures are the counts the reason rests on, when it
	// rests on counts.
	Sessions *int64 `json:"sessions,omitempty"`
	Failures *int64 `json:"failures,omitempty"`
}

// Verdict is the readiness of one served domain for mode enforce, with
// the reasons and the evidence.
type Verdict struct {
	Domain     string   `json:"domain"`
	Status     Status   `json:"verdict"`
	WindowDays int      `json:"window_days"`
	Reasons    []Reason `json:"reasons"`
	Evidence   Report   `json:"evidence"`
}

// Thresholds are the numbers Evaluate judges by. The zero value of a
// field means its default (DefaultThresholds).
type Thresholds struct {
	// Window is how far back reports are read; default 14 days, the two
	// weeks in testing most guides recommend.
	Window time.Duration
	// MinOrganizations is how many independent sending organisations
	// must have reported sessions; default 2, so that one sender's view
	// (or its bugs) does not decide alone.
	MinOrganizations int
	// MinSessions is how many sessions the reports must count; default
	// 100.
	MinSessions int64
	// MinDays is how many UTC days must have reports; default 7.
	MinDays int
	// MaxFailureRate is the largest share of all sessions one result type
	// at one MX host (or of the policy fetch) may fail; default 0, any
	// failure blocks. A negative value means 0 too; set it to 0.001 to
	// tolerate one failure in a thousand.
	MaxFailureRate float64
	// MaxOrganizationFailureRate is the largest share of its own sessions
	// one organisation may fail; default 0.01.
	MaxOrganizationFailureRate float64
}

// Defaults of Thresholds.
const (
	DefaultWindow                     = 14 * 24 * time.Hour
	DefaultMinOrganizations           = 2
	DefaultMinSessions                = 100
	DefaultMinDays                    = 7
	DefaultMaxOrganizationFailureRate = 0.01
)

// DefaultThresholds returns the thresholds with every default filled in.
func DefaultThresholds() Thresholds { return Thresholds{}.withDefaults() }

// withDefaults returns t with its zero fields set to their defaults.
func (t Thresholds) withDefaults() Thresholds {
	if t.Window <= 0 {
		t.Window = DefaultWindow
	}
	if t.MinOrganizations <= 0 {
		t.MinOrganizations = DefaultMinOrganizations
	}
	if t.MinSessions <= 0 {
		t.MinSessions = DefaultMinSessions
	}
	if t.MinDays <= 0 {
		t.MinDays = DefaultMinDays
	}
	if t.MaxFailureRate < 0 {
		t.MaxFailureRate = 0
	}
	if t.MaxOrganizationFailureRate <= 0 {
		t.MaxOrganizationFailureRate = DefaultMaxOrganizationFailureRate
	}
	return t
}

// WindowDays returns the window in whole days.
func (t Thresholds) WindowDays() int { return int(t.withDefaults().Window / (24 * time.Hour)) }

// Evidence is what a verdict is made from: the served policy, the stored
// reports of the window and a fresh check of the domain. Gather fills it;
// Evaluate judges it without I/O.
type Evidence struct {
	Domain string `json:"domain"`
	// Since is the start of the window's first UTC day; Until the time
	// the evidence was gathered.
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Policy is the policy served now (RFC 8461 §3.2).
	Policy ServedPolicy `json:"policy"`
	// Days is the number of UTC days of the window with reports.
	Days int `json:"days"`
	// Organizations are the sessions each organisation reported.
	Organizations []reportstore.OrganizationSessions `json:"organizations"`
	// Failures are the failed sessions per MX host, result type and
	// organisation.
	Failures []reportstore.FailureGroup `json:"failures"`
	// LiveMX are the domain's MX hosts as the check found them.
	LiveMX []LiveMX `json:"live_mx"`
	// CheckError says why the check could not run, if it could not.
	CheckError string `json:"check_error,omitempty"`
}

// ServedPolicy is the policy a domain is served with, and its id.
type ServedPolicy struct {
	ID     string   `json:"id"`
	Mode   sts.Mode `json:"mode"`
	MaxAge int64    `json:"max_age"`
	MX     []string `json:"mx"`
	Text   string   `json:"text"`
}

// LiveMX is one live MX host of the domain.
type LiveMX struct {
	Host string `json:"host"`
	// Covered reports that an mx pattern of the served policy matches the
	// host (RFC 8461 §4.1).
	Covered bool `json:"covered"`
	// Problems are the check's findings that make the host fail
	// validation (RFC 8461 §4.2), as "code: message", or NotVerified when
	// no address completed a TLS handshake; none means it validates.
	Problems []string `json:"problems,omitempty"`
}
