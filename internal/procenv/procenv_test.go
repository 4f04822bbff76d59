package procenv

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	var log io.Writer
	var now func() time.Time
	var getenv func(string) string
	Defaults(&log, &now, &getenv)
	if log != os.Stderr || now == nil || getenv == nil || getenv("PATH") != os.Getenv("PATH") {
		t.Errorf("defaults not filled: log %v, clock set %v, getenv set %v", log, now != nil, getenv != nil)
	}
	var buf bytes.Buffer
	log = &buf
	fixed := func() time.Time { return time.Unix(1, 0) }
	now = fixed
	Defaults(&log, &now, &getenv)
	if log != &buf || now().Unix() != 1 {
		t.Error("a value set was replaced")
	}
}

func TestNewRegistry(t *testing.T) {
	families, err := NewRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var goSeen, procSeen bool
	for _, f := range families {
		goSeen = goSeen || strings.HasPrefix(f.GetName(), "go_")
		procSeen = procSeen || strings.HasPrefix(f.GetName(), "process_")
	}
	if !goSeen || !procSeen {
		t.Errorf("registry lacks the runtime (%v) or process (%v) collectors", goSeen, procSeen)
	}
}
