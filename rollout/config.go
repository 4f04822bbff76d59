package rollout

import (
	"time"

	"github.com/mtasts/mtasts/internal/tomlconf"
	"github.com/mtasts/mtasts/sts"
)

// Config is the [rollout] section of mtasts.toml: the thresholds of the
// readiness verdict for every served domain, and per domain where one
// needs others:
//
//	[rollout]
//	window_days = 14
//	min_organizations = 2
//
//	[rollout.domains."example.com"]
//	min_organizations = 1 # one big sender is all this domain hears from
//
// Keys left out keep the defaults (or, for a domain, the section's).
type Config struct {
	Default Thresholds
	Domains map[string]Thresholds
}

// thresholdsSyntax is one table of thresholds; nil keys are not set.
type thresholdsSyntax struct {
	WindowDays                 *int     `toml:"window_days"`
	MinOrganizations           *int     `toml:"min_organizations"`
	MinSessions                *int64   `toml:"min_sessions"`
	MinDays                    *int     `toml:"min_days"`
	MaxFailureRate             *float64 `toml:"max_failure_rate"`
	MaxOrganizationFailureRate *float64 `toml:"max_organization_failure_rate"`
}

// apply sets the keys of s that are set on t.
func (s thresholdsSyntax) apply(t Thresholds) Thresholds {
	if s.WindowDays != nil {
		t.Window = time.Duration(*s.WindowDays) * 24 * time.Hour
	}
	set(&t.MinOrganizations, s.MinOrganizations)
	set(&t.MinSessions, s.MinSessions)
	set(&t.MinDays, s.MinDays)
	set(&t.MaxFailureRate, s.MaxFailureRate)
	set(&t.MaxOrganizationFailureRate, s.MaxOrganizationFailureRate)
	return t
}

// set copies *v to *dst when v is not nil.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// LoadConfig reads the [rollout] section of the file at path; a file
// without one gives the defaults.
func LoadConfig(path string) (Config, error) {
	f, err := tomlconf.Read(path)
	if err != nil {
		return Config{}, err
	}
	var file struct {
		Rollout struct {
			thresholdsSyntax
			Domains map[string]thresholdsSyntax `toml:"domains"`
		} `toml:"rollout"`
	}
	if err := f.Decode(&file); err != nil {
		return Config{}, err
	}
	c := Config{Default: file.Rollout.apply(DefaultThresholds()), Domains: map[string]Thresholds{}}
	for name, s := range file.Rollout.Domains {
		d, err := sts.NormalizeDomain(name)
		if err != nil {
			return Config{}, f.Locate(tomlconf.Setting(err, "rollout", "domains", name))
		}
		c.Domains[d] = s.apply(c.Default)
	}
	return c, nil
}

// For returns the thresholds of domain.
func (c Config) For(domain string) Thresholds {
	if t, ok := c.Domains[domain]; ok {
		return t
	}
	return c.Default
}
