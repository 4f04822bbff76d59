package enforce

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// PostfixVersion is a Postfix release, such as 3.7 or 3.10.5: the
// version of the Postfix that the daemon answers, which decides what its
// TLS policy replies may contain (see ReplyOptions).
type PostfixVersion struct {
	Major, Minor, Patch int
}

// Postfix releases whose TLS policy syntax differs.
var (
	// Postfix34 accepts "servername=hostname" (older releases reject the
	// attribute and with it the whole policy).
	Postfix34 = PostfixVersion{3, 4, 0}
	// Postfix310 accepts the TLSRPT attributes of an MTA-STS policy
	// (policy_type, policy_domain, policy_string, mx_host_pattern,
	// policy_failure; TLSRPT_README); older releases reject them as
	// invalid attribute names.
	Postfix310 = PostfixVersion{3, 10, 0}
	// Postfix3105 connects only to MX hosts whose names match an
	// mx_host_pattern attribute, and matches the certificate against the
	// MX host name (smtp_tls_enforce_sts_mx_patterns = yes, the default;
	// back-ported from 3.11).
	Postfix3105 = PostfixVersion{3, 10, 5}
	// DefaultPostfixVersion is assumed when the configuration names none:
	// the oldest release in maintained distributions that the replies
	// keep working with (servername, no TLSRPT attributes, the MX hosts'
	// exact names in match=).
	DefaultPostfixVersion = Postfix34
)

// ParsePostfixVersion parses "MAJOR.MINOR" or "MAJOR.MINOR.PATCH" as
// postconf mail_version prints it (a missing patch level is 0). Releases
// before 2.10, which has no socketmap client, are refused.
func ParsePostfixVersion(s string) (PostfixVersion, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return PostfixVersion{}, fmt.Errorf("postfix version %q: want MAJOR.MINOR or MAJOR.MINOR.PATCH, such as 3.7 or 3.10.5", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v > 999 || p != strconv.Itoa(v) {
			return PostfixVersion{}, fmt.Errorf("postfix version %q: %q is not a number from 0 to 999", s, p)
		}
		n[i] = v
	}
	v := PostfixVersion{n[0], n[1], n[2]}
	if v.Less(PostfixVersion{2, 10, 0}) {
		return PostfixVersion{}, fmt.Errorf("postfix version %s: socketmap needs Postfix 2.10 or later", v)
	}
	return v, nil
}

// String returns "MAJOR.MINOR.PATCH".
func (v PostfixVersion) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Less reports whether v is an older release than w.
func (v PostfixVersion) Less(w PostfixVersion) bool {
	return cmp.Or(cmp.Compare(v.Major, w.Major), cmp.Compare(v.Minor, w.Minor), cmp.Compare(v.Patch, w.Patch)) < 0
}
