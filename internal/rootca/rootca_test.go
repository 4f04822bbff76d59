package rootca

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

func TestLoad(t *testing.T) {
	file := testworld.NewCA(t, "rootca").WriteFile(t)
	env := func(file string) func(string) string {
		return func(k string) string { return map[string]string{"SSL_CERT_FILE": file}[k] }
	}
	if pool, err := Load("", env("")); pool != nil || err != nil {
		t.Errorf("nothing given: %v, %v; want the system roots (nil)", pool, err)
	}
	for _, tc := range []struct{ file, envFile string }{{file, ""}, {"", file}, {file, "/nonexistent"}} {
		if pool, err := Load(tc.file, env(tc.envFile)); pool == nil || err != nil {
			t.Errorf("file %q, SSL_CERT_FILE %q: %v, %v", tc.file, tc.envFile, pool, err)
		}
	}
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	os.WriteFile(notPEM, []byte("no certificate here"), 0o644)
	for file, want := range map[string]string{notPEM: "no PEM certificate", "/nonexistent": "reading CA file"} {
		if _, err := Load(file, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", file, err, want)
		}
	}
}
