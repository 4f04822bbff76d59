package reportstore

import (
	"fmt"
	"math"
	"strconv"

	"github.com/mtasts/mtasts/tlsrpt"
)

// Session counts are summed without overflow: a report stored before
// tlsrpt.Parse refused absurd counts (tlsrpt.MaxSessionCount), or built
// in Go, may hold counts near math.MaxInt64, and one such report must not
// break every page that sums them. SQL sums are taken over double
// precision (exact below 2^53 sessions, and never an overflow error),
// read with sumOf, which saturates at math.MaxInt64; sums in Go use
// tlsrpt.Summary.Add.

// sumOf is the SQL sum of an integer column, in double precision.
func sumOf(col string) string { return "SUM(CAST(" + col + " AS DOUBLE PRECISION))" }

// addSaturating is the SQL expression of column col of alias d plus the
// value of the row being inserted, saturating at math.MaxInt64, for an
// ON CONFLICT DO UPDATE.
func addSaturating(col string) string {
	return fmt.Sprintf(`CASE WHEN d.%[1]s > %[2]d - excluded.%[1]s THEN %[2]d ELSE d.%[1]s + excluded.%[1]s END`, col, int64(math.MaxInt64))
}

// countScanner scans a count into n: an integer, or a float (a sum, or a
// value SQLite turned into one when an old addition overflowed), rounded
// and saturated to the range of int64.
type countScanner struct{ n *int64 }

// count returns a scan destination for a count column or sum.
func count(n *int64) countScanner { return countScanner{n} }

// Scan implements sql.Scanner.
func (c countScanner) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.n = 0
	case int64:
		*c.n = v
	case float64:
		*c.n = saturate(v)
	case []byte:
		return c.Scan(string(v))
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			*c.n = n
			return nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("count %q is not a number", v)
		}
		*c.n = saturate(f)
	default:
		return fmt.Errorf("count of type %T", src)
	}
	return nil
}

// saturate converts f to the nearest int64.
func saturate(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64: // 2^63 as a float64
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(math.Round(f))
}

// sessions is ok plus failed, at most math.MaxInt64.
func sessions(ok, failed int64) int64 {
	return tlsrpt.Summary{Successful: ok, Failed: failed}.Sessions()
}
