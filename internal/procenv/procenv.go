// Package procenv fills in what the services (enforce, serve) take from
// the process when a program leaves it unset in their Options: the log
// writer, the clock, the environment and the metrics registry.
package procenv

import (
	"io"
	"os"
	"os/user"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Defaults sets each nil one of log, now and getenv to the process's own:
// standard error, time.Now and os.Getenv.
func Defaults(log *io.Writer, now *func() time.Time, getenv *func(string) string) {
	if *log == nil {
		*log = os.Stderr
	}
	if *now == nil {
		*now = time.Now
	}
	if *getenv == nil {
		*getenv = os.Getenv
	}
}

// NewRegistry returns a metrics registry holding the Go runtime and process
// collectors, as a service serves it when given none.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Actor returns who runs the program, for audit records (overrides,
// policy changes): the user who called sudo (SUDO_USER), else the OS
// user, else $USER, else "unknown".
func Actor(getenv func(string) string) string {
	if u := getenv("SUDO_USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}
