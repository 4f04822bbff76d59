package check

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// dateFormat is how dates appear in messages.
const dateFormat = "2006-01-02"

// validityText says how the validity period of c relates to now, for a
// certificate that is expired or not yet valid: "expired on 2024-05-01
// (3 days ago)" or "is not valid before 2024-05-01 (in 2 days)".
func validityText(c *x509.Certificate, now time.Time) string {
	if now.Before(c.NotBefore) {
		return fmt.Sprintf("is not valid before %s (%s)", c.NotBefore.UTC().Format(dateFormat), inDays(daysLeft(c.NotBefore, now)))
	}
	return fmt.Sprintf("expired on %s (%s)", c.NotAfter.UTC().Format(dateFormat), inDays(daysLeft(c.NotAfter, now)))
}

// inDays renders a day count relative to today.
func inDays(d int) string {
	switch {
	case d == 0:
		return "today"
	case d == 1:
		return "tomorrow"
	case d == -1:
		return "yesterday"
	case d < 0:
		return fmt.Sprintf("%d days ago", -d)
	}
	return fmt.Sprintf("in %d days", d)
}

// expiryFinding reports a valid certificate that expires soon: within 14
// days as soon, within 30 days as near.
func expiryFinding(soon, near Code, subject string, c *x509.Certificate, now time.Time) (Finding, bool) {
	left := c.NotAfter.Sub(now)
	code := near
	switch {
	case left < 0 || left >= expiryNear:
		return Finding{}, false
	case left < expirySoon:
		code = soon
	}
	return newFinding(code, subject, "certificate %s expires on %s (%s)",
		describeCert(c), c.NotAfter.UTC().Format(dateFormat), inDays(daysLeft(c.NotAfter, now))), true
}

// describeCert names a certificate for messages by its DNS names, or its
// subject when it has none.
func describeCert(c *x509.Certificate) string {
	if len(c.DNSNames) > 0 {
		return "for " + strings.Join(c.DNSNames, ", ")
	}
	return "\"" + c.Subject.String() + "\""
}
