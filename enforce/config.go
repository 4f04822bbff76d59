package enforce

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mtasts/mtasts/internal/statedir"
	"github.com/mtasts/mtasts/internal/tomlconf"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
	"github.com/mtasts/mtasts/tlsrptsend"
)

// Config is the [daemon] section of mtasts.toml, the configuration of the
// service; see docs/mtasts.example.toml for every key with its meaning.
// Load reads it over DefaultConfig; a program may change it before calling
// Validate, as "mtasts daemon" does with its flags.
type Config struct {
	Listen          []string      `toml:"listen"`
	SocketMode      string        `toml:"socket_mode"`
	Maps            []string      `toml:"maps"`
	Cache           string        `toml:"cache"`
	Metrics         string        `toml:"metrics"`
	Resolver        string        `toml:"resolver"`
	CAFile          string        `toml:"ca_file"`
	Timeout         time.Duration `toml:"timeout"`
	QueryTimeout    time.Duration `toml:"query_timeout"`
	ShutdownTimeout time.Duration `toml:"shutdown_timeout"`
	// PostfixVersion is the release of the Postfix served, such as
	// "3.7" or "3.10.5" ("" means DefaultPostfixVersion); replies hold
	// only what it accepts (see ReplyOptions).
	PostfixVersion string `toml:"postfix_version"`
	// Servername false leaves servername=hostname out whatever the
	// version; TLSRPT, when set, turns the TLSRPT attributes on or off
	// (true needs Postfix 3.10; unset: on from 3.10). Both predate
	// PostfixVersion, which alone says the same.
	Servername      bool          `toml:"servername"`
	TLSRPT          *bool         `toml:"tlsrpt"`
	LogLevel        string        `toml:"log_level"`
	LogFormat       string        `toml:"log_format"`
	Refresh         bool          `toml:"refresh"`
	RecheckInterval time.Duration `toml:"recheck_interval"`
	DANE            *bool         `toml:"dane"` // nil: on when the resolver validates DNSSEC
	// MaxConnections caps the socketmap connections open at once (0: from
	// RLIMIT_NOFILE, see socketmap.DefaultMaxConnections; -1: no cap);
	// above PressureConnections (0: three quarters of it) connections
	// idle for PressureIdleTimeout (0: socketmap.DefaultPressureIdleTimeout)
	// are closed.
	MaxConnections      int           `toml:"max_connections"`
	PressureConnections int           `toml:"pressure_connections"`
	PressureIdleTimeout time.Duration `toml:"pressure_idle_timeout"`
	// MaxLookupsInFlight caps the policy lookups (DNS, HTTPS) running at
	// once (0: resolver.DefaultMaxLookupsInFlight; -1: no cap).
	MaxLookupsInFlight int             `toml:"max_lookups_in_flight"`
	Zone               Zone            `toml:"default_zone"`
	Zones              map[string]Zone `toml:"zones"`
	// TLSRPTSend is the schedule of our own TLS reports (tlsrpt.go).
	TLSRPTSend tlsrptsend.Config `toml:"tlsrpt_send"`

	// EximListen are the sockets answering Exim's ${readsocket}
	// requests (see EximAnswer and docs/exim.md), in the syntax of
	// Listen; none by default.
	EximListen []string `toml:"exim_listen"`

	// RefreshUsedWithin limits the proactive refresh to domains looked up
	// within it, DropUnusedAfter drops the policies unused for it; 0
	// turns either off (see resolver.Config).
	RefreshUsedWithin time.Duration `toml:"refresh_used_within"`
	DropUnusedAfter   time.Duration `toml:"drop_unused_after"`

	// Path is the file the configuration was read from, "" for none.
	Path string `toml:"-"`

	socketMode   fs.FileMode  // SocketMode parsed
	logLevel     slog.Level   // LogLevel parsed
	postfixReply ReplyOptions // what the Postfix served accepts, from PostfixVersion, Servername and TLSRPT
	// stateDir is the directory of the default cache, and stateNote,
	// if not "", why it is not the system's (see statedir.Default).
	stateDir, stateNote string
}

// Zone holds the per-domain options of a zone: a domain and every
// name below it, the most specific zone winning. Unset options come from
// [daemon.default_zone].
type Zone struct {
	// StrictTesting applies testing policies as enforce.
	StrictTesting *bool `toml:"strict_testing"`
	// OnDNSFailure says what a temporary DNS failure with nothing cached
	// means: "tempfail" (Postfix defers the mail; the default) or
	// "no-policy" (deliver with opportunistic TLS).
	OnDNSFailure string `toml:"on_dns_failure"`
}

// Values of Zone.OnDNSFailure.
const (
	onDNSFailureTempfail = "tempfail"
	onDNSFailureNoPolicy = "no-policy"
)

// DefaultConfig is the configuration without a file or flags. The cache
// is cache.db in the directory systemd names in STATE_DIRECTORY
// (StateDirectory=), if getenv has it, else in the default state
// directory: cache.DefaultURL when the process can keep files in
// statedir.System, else the user's (see statedir.Default).
func DefaultConfig(getenv func(string) string) *Config {
	dir, _, _ := strings.Cut(getenv("STATE_DIRECTORY"), ":")
	var note string
	if dir == "" {
		dir, note = statedir.Default(statedir.System, getenv)
	}
	cacheURL := "sqlite://" + filepath.Join(dir, "cache.db")
	send := tlsrptsend.DefaultConfig()
	send.Store = "sqlite://" + filepath.Join(dir, "reports.db")
	return &Config{
		stateDir:        dir,
		stateNote:       note,
		Listen:          []string{"127.0.0.1:8461"},
		Maps:            []string{"postfix", "sts"},
		Cache:           cacheURL,
		Timeout:         60 * time.Second,
		QueryTimeout:    30 * time.Second,
		ShutdownTimeout: 20 * time.Second,
		Servername:      true,
		LogLevel:        "info",
		LogFormat:       "text",
		Refresh:         true,
		RecheckInterval: resolver.DefaultRecheckInterval,
		Zone:            Zone{StrictTesting: new(false), OnDNSFailure: onDNSFailureTempfail},

		RefreshUsedWithin: resolver.DefaultRefreshUsedWithin,
		DropUnusedAfter:   resolver.DefaultDropUnusedAfter,
		TLSRPTSend:        send,
	}
}

// configFile is the part of mtasts.toml the daemon reads; other sections
// belong to other commands and are left alone.
type configFile struct {
	Daemon *Config `toml:"daemon"`
}

// prepareStateDir creates the default state directory if the cache is
// the default one in it, and says, once, when that directory is the
// user's rather than the system's. A cache the configuration names is
// left to its own checks.
func (c *Config) prepareStateDir(logger *slog.Logger) error {
	if !c.defaultCache() {
		return nil
	}
	if c.stateNote != "" {
		logger.Warn(c.stateNote)
	}
	if err := os.MkdirAll(c.stateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	return nil
}

// defaultCache tells whether the cache is the default one, in the
// default state directory.
func (c *Config) defaultCache() bool {
	return c.stateDir != "" && c.Cache == "sqlite://"+filepath.Join(c.stateDir, "cache.db")
}

// Load reads the [daemon] section of the file at path over DefaultConfig
// and validates the result; relative paths in it (ca_file, unix: listen
// addresses, a sqlite: cache) are taken from the file's directory. An
// empty path means no file. Errors name the file, the line and the key
// (see package tomlconf); unknown keys inside [daemon] are errors, so
// that a misspelt option is not silently ignored.
func Load(path string, getenv func(string) string) (*Config, error) {
	c := DefaultConfig(getenv)
	if path == "" {
		return c, c.Validate()
	}
	f, err := tomlconf.Read(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := f.Decode(&configFile{Daemon: c}); err != nil {
		return nil, err
	}
	c.resolvePaths(f)
	c.Path = path
	return c, f.Locate(c.Validate())
}

// resolvePaths takes the relative paths of c from the directory of f.
func (c *Config) resolvePaths(f *tomlconf.File) {
	c.CAFile = f.Resolve(c.CAFile)
	for _, list := range [][]string{c.Listen, c.EximListen} {
		for i, l := range list {
			if p, ok := strings.CutPrefix(l, "unix:"); ok {
				list[i] = "unix:" + f.Resolve(p)
			}
		}
	}
	c.Cache = f.ResolveSQLite(c.Cache)
	c.TLSRPTSend.Resolve(f)
}

// Validate checks the configuration and fills in what is derived from it:
// the zones normalized, the default zone complete. New and Query call it;
// a program that changes a loaded Config calls it to report errors first.
// The error is a *tomlconf.SettingError naming the key.
func (c *Config) Validate() error {
	bad := func(key string, format string, args ...any) error {
		return tomlconf.Setting(fmt.Errorf(format, args...), "daemon", key)
	}
	if len(c.Listen) == 0 && len(c.EximListen) == 0 {
		return bad("listen", "no listen address")
	}
	for i, list := range [][]string{c.Listen, c.EximListen} {
		for _, l := range list {
			if _, err := parseListenAddr(l); err != nil {
				return bad([]string{"listen", "exim_listen"}[i], "%w", err)
			}
		}
	}
	if len(c.Maps) == 0 {
		return bad("maps", "no map name to serve")
	}
	for _, m := range c.Maps {
		if m == "" || strings.ContainsAny(m, " \t") {
			return bad("maps", "map name %q: must be one word", m)
		}
	}
	// In order and once each: a name is served once, and a reload
	// compares the list.
	c.Maps = slices.Compact(slices.Sorted(slices.Values(c.Maps)))
	if c.SocketMode != "" {
		m, err := strconv.ParseUint(c.SocketMode, 8, 32)
		if err != nil || m > 0o777 {
			return bad("socket_mode", "%q: want an octal mode such as \"0660\"", c.SocketMode)
		}
		c.socketMode = fs.FileMode(m)
	}
	if err := c.logLevel.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return bad("log_level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return bad("log_format", "%q: want text or json", c.LogFormat)
	}
	for name, d := range map[string]time.Duration{"timeout": c.Timeout, "query_timeout": c.QueryTimeout,
		"shutdown_timeout": c.ShutdownTimeout, "recheck_interval": c.RecheckInterval} {
		if d <= 0 {
			return bad(name, "%v: must be positive", d)
		}
	}
	for name, d := range map[string]time.Duration{"refresh_used_within": c.RefreshUsedWithin, "drop_unused_after": c.DropUnusedAfter} {
		if d < 0 {
			return bad(name, "%v: must not be negative (0s turns it off)", d)
		}
	}
	if c.PressureConnections < 0 {
		return bad("pressure_connections", "%d: must not be negative", c.PressureConnections)
	}
	if c.MaxConnections > 0 && c.PressureConnections > c.MaxConnections {
		return bad("pressure_connections", "%d: above max_connections (%d)", c.PressureConnections, c.MaxConnections)
	}
	if c.PressureIdleTimeout < 0 {
		return bad("pressure_idle_timeout", "%v: must not be negative", c.PressureIdleTimeout)
	}
	if err := c.setPostfixReply(); err != nil {
		return err
	}
	if err := c.Zone.check("default_zone"); err != nil {
		return err
	}
	c.Zone = c.Zone.over(Zone{StrictTesting: new(false), OnDNSFailure: onDNSFailureTempfail})
	zones := make(map[string]Zone, len(c.Zones))
	for name, z := range c.Zones {
		d, err := sts.NormalizeDomain(name)
		if err != nil {
			return tomlconf.Setting(err, "daemon", "zones", name)
		}
		if err := z.check("zones", name); err != nil {
			return err
		}
		if _, dup := zones[d]; dup {
			return tomlconf.Setting(fmt.Errorf("zone %s given twice", d), "daemon", "zones", name)
		}
		zones[d] = z
	}
	c.Zones = zones
	if c.TLSRPTSend.Enabled {
		return c.TLSRPTSend.Check("daemon", "tlsrpt_send")
	}
	return nil
}

// setPostfixReply derives the reply options that the Postfix served
// accepts: servername=hostname from 3.4 (unless servername = false); the
// TLSRPT attributes from 3.10 (unless tlsrpt = false); MX host names
// checked by Postfix from 3.10.5 when it gets the attributes, the exact
// names of the covered MX hosts in match= otherwise. An old file's
// "tlsrpt = true" without postfix_version stands for Postfix 3.10.
func (c *Config) setPostfixReply() error {
	v := DefaultPostfixVersion
	switch {
	case c.PostfixVersion != "":
		var err error
		if v, err = ParsePostfixVersion(c.PostfixVersion); err != nil {
			return tomlconf.Setting(err, "daemon", "postfix_version")
		}
	case c.TLSRPT != nil && *c.TLSRPT:
		v = Postfix310
	}
	tlsrpt := !v.Less(Postfix310)
	if c.TLSRPT != nil {
		if *c.TLSRPT && !tlsrpt {
			return tomlconf.Setting(fmt.Errorf("true needs Postfix 3.10 or later, which accepts the TLSRPT attributes; postfix_version is %s", v), "daemon", "tlsrpt")
		}
		tlsrpt = *c.TLSRPT
	}
	c.postfixReply = ReplyOptions{
		NoServername: !c.Servername || v.Less(Postfix34),
		TLSRPT:       tlsrpt,
		MTAMatchesMX: tlsrpt && !v.Less(Postfix3105),
	}
	return nil
}

// check validates the options of the zone named by table.
func (z Zone) check(table ...string) error {
	switch z.OnDNSFailure {
	case "", onDNSFailureTempfail, onDNSFailureNoPolicy:
		return nil
	}
	return tomlconf.Setting(fmt.Errorf("%q: want %q or %q", z.OnDNSFailure, onDNSFailureTempfail, onDNSFailureNoPolicy),
		append(append([]string{"daemon"}, table...), "on_dns_failure")...)
}

// over returns z with its unset options taken from def.
func (z Zone) over(def Zone) Zone {
	if z.StrictTesting == nil {
		z.StrictTesting = def.StrictTesting
	}
	if z.OnDNSFailure == "" {
		z.OnDNSFailure = def.OnDNSFailure
	}
	return z
}

// zone returns the options for a normalized policy domain: those of the
// most specific zone that is the domain or one of its parents, over the
// default zone, and the zone's name ("" for the default).
func (c *Config) zone(domain string) (Zone, string) {
	for name := domain; name != ""; {
		if z, ok := c.Zones[name]; ok {
			return z.over(c.Zone), name
		}
		_, rest, ok := strings.Cut(name, ".")
		if !ok {
			break
		}
		name = rest
	}
	return c.Zone, ""
}

// restartOnly are the settings, by key, that a reload cannot change: the
// listeners, the cache, the network setup and the log format.
var restartOnly = []string{"listen", "exim_listen", "socket_mode", "maps", "cache", "metrics", "resolver", "ca_file", "log_format",
	"max_connections", "pressure_connections", "pressure_idle_timeout", "tlsrpt_send"}

// keepRestartOnly sets the restart-only settings of c to those of
// running, and calls changed for each one that c had set otherwise.
func (c *Config) keepRestartOnly(running *Config, changed func(key string, running, next any)) {
	v, r := reflect.ValueOf(c).Elem(), reflect.ValueOf(running).Elem()
	for _, key := range restartOnly {
		i := configField[key]
		if !reflect.DeepEqual(v.Field(i).Interface(), r.Field(i).Interface()) {
			changed(key, r.Field(i).Interface(), v.Field(i).Interface())
			v.Field(i).Set(r.Field(i))
		}
	}
	c.socketMode = running.socketMode
}

// configField maps the keys of Config to their field indexes.
var configField = func() map[string]int {
	m := map[string]int{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[Config]()) {
		if key := f.Tag.Get("toml"); key != "" && key != "-" {
			m[key] = f.Index[0]
		}
	}
	return m
}()
