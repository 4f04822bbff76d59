package reportstore

import (
	"math"
	"strconv"
	"testing"
)

func TestCountScanner(t *testing.T) {
	for _, tc := range []struct {
		src  any
		want int64
	}{
		{nil, 0},
		{int64(42), 42},
		{float64(1e3), 1000},
		{1.8446744073709552e19, math.MaxInt64}, // SQLite's overflowed sum
		{-1e30, math.MinInt64},
		{math.NaN(), 0},
		{[]byte("9223372036854775807"), math.MaxInt64},
		{"123", 123},
		{"1.5e20", math.MaxInt64}, // PostgreSQL numeric as text
	} {
		var n int64
		if err := count(&n).Scan(tc.src); err != nil || n != tc.want {
			t.Errorf("Scan(%v) = %d, %v; want %d", tc.src, n, err, tc.want)
		}
	}
	var n int64
	for _, bad := range []any{"many", true} {
		if err := count(&n).Scan(bad); err == nil {
			t.Errorf("Scan(%v) succeeded", bad)
		}
	}
}

// FuzzCountScan checks that any text a database may return for a count
// scans without panic, and that integers scan exactly.
func FuzzCountScan(f *testing.F) {
	for _, s := range []string{"0", "9223372036854775807", "-9223372036854775808", "1e308", "NaN", "-Inf", "3.5", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var n int64
		err := count(&n).Scan(s)
		if want, perr := strconv.ParseInt(s, 10, 64); perr == nil && (err != nil || n != want) {
			t.Fatalf("Scan(%q) = %d, %v; want %d", s, n, err, want)
		}
	})
}
