package reportstore

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseSince reads a date (YYYY-MM-DD, UTC) or an age before now: a
// number of days (7d), weeks (2w) or a Go duration (36h). "" is the zero
// time.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return time.Time{}, fmt.Errorf("%q is not a date (YYYY-MM-DD) or an age (7d, 2w, 36h)", s)
			}
			return now.Add(-time.Duration(v) * unit), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is not a date (YYYY-MM-DD) or an age (7d, 2w, 36h)", s)
	}
	return now.Add(-d), nil
}
