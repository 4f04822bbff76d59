package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/internal/testenv/testpostfix"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// readmeStep says how TestREADME runs one command of README.md.
type readmeStep struct {
	// exit is the exit status the command must end with.
	exit int
	// stdout is a text its standard output must hold.
	stdout string
	// background marks a service: it runs, once ready (listening on
	// ready, inside the namespace), while the commands after it in its
	// block run, and must end with exit status 0 on SIGTERM.
	background bool
	ready      string
	// root runs the command as root in the repository (the install).
	root bool
	// elsewhere says which other test runs the command instead.
	elsewhere string
}

// readmeSteps holds every command of the README's sh blocks, as written
// there (continuation lines joined, comments removed). A command missing
// from this table, or an entry no longer in the README, fails the test.
var readmeSteps = map[string]readmeStep{
	// Install.
	"packaging/deb/build.sh dist/":   {elsewhere: "TestPackage (packaging/deb) builds the package with build.sh"},
	"sudo dpkg -i dist/mtasts_*.deb": {elsewhere: "TestPackage (packaging/deb) installs it with dpkg -i"},
	"mtasts --version":               {stdout: "mtasts "},
	"go install ./cmd/mtasts":        {root: true},
	// Use.
	"mtasts policy init example.com --mx mx1.example.com --mx '*.mail.example.com' --mode testing --rua mailto:tlsrpt@example.com": {stdout: "_mta-sts.example.com."},
	"mtasts policy lint mta-sts.txt":                                       {exit: exitWarnings, stdout: "valid, 1 warning"}, // mode testing
	"mtasts policy fetch example.com":                                      {stdout: "example.com: enforce"},
	"mtasts policy fetch --json example.com":                               {stdout: `"verdict": "enforce"`},
	"mtasts check example.com":                                             {stdout: "example.com: MTA-STS enforce"},
	"mtasts check --json example.com":                                      {stdout: `"domain": "example.com"`},
	"mtasts check --no-mx example.com":                                     {stdout: "example.com: MTA-STS enforce"},
	"mtasts check -f domains.txt --concurrency 32 --jsonl > results.jsonl": {},
	// Host policies and collect reports.
	"mtasts serve --config /etc/mtasts/mtasts.toml --check": {},
	"mtasts serve --config /etc/mtasts/mtasts.toml":         {background: true, ready: "127.0.0.1:8443"},
	// The served policy is in mode testing and its id is not the one
	// the world publishes: the records to change are errors.
	"mtasts policy records --config /etc/mtasts/mtasts.toml":    {exit: exitErrors, stdout: "_mta-sts.example.com."},
	"mtasts reports import ~/Maildir/.tlsrpt reports/*.json.gz": {stdout: "accepted"},
	"mtasts reports summary --since 7d":                         {},
	"mtasts reports list --domain example.com":                  {},
	"mtasts reports export --format csv > reports.csv":          {},
	"mtasts reports delete 42":                                  {exit: exitErrors}, // there is no report 42
	// Go from testing to enforce: one organisation reported, so there is
	// not enough evidence.
	"mtasts promote example.com --config /etc/mtasts/mtasts.toml": {exit: exitWarnings, stdout: "insufficient-data"},
	"mtasts promote --json example.com":                           {exit: exitWarnings, stdout: `"verdict": "insufficient-data"`},
	"mtasts promote --apply example.com":                          {exit: exitWarnings, stdout: "insufficient-data"},
	"mtasts demote example.com --to testing":                      {exit: exitCannotRun},
	"mtasts demote example.com --to none":                         {stdout: "mode testing → none"},
	"mtasts promote --history example.com":                        {stdout: "demote"},
	// Enforce MTA-STS in Postfix.
	"mtasts daemon": {background: true, ready: "127.0.0.1:8461"},
	"mtasts daemon --config /etc/mtasts/mtasts.toml --listen 127.0.0.1:8461 --listen unix:/run/mtasts/socketmap.sock --metrics 127.0.0.1:9461": {background: true, ready: "127.0.0.1:9461"},
	"postmap -q example.com socketmap:inet:127.0.0.1:8461:postfix":                                                                             {stdout: "secure match=mx1.example.com"},
	"mtasts query example.com":        {stdout: "example.com: enforce"},
	"mtasts query --json example.com": {stdout: `"decision": "enforce"`},
	// The operator in control.
	`mtasts override add example.com --mode testing --for 48h --reason "MX certificate expired" --config /etc/mtasts/mtasts.toml`: {stdout: "override example.com: mode testing"},
	"mtasts override list --config /etc/mtasts/mtasts.toml":                                                                       {stdout: "MX certificate expired"},
	"mtasts override remove example.com --config /etc/mtasts/mtasts.toml":                                                         {},
	"mtasts cache list --config /etc/mtasts/mtasts.toml":                                                                          {stdout: "example.com"},
	"mtasts cache show example.com --config /etc/mtasts/mtasts.toml":                                                              {stdout: "example.com"},
	"mtasts cache export --format postfix --config /etc/mtasts/mtasts.toml > mta-sts && postmap mta-sts":                          {},
	// Roll out and watch: serve's monitor has not run here.
	"mtasts status":                    {exit: exitWarnings},
	"mtasts status example.com --json": {exit: exitWarnings, stdout: `"example.com"`},
	// Report as a sender.
	"journalctl -u postfix -o short-iso -f | mtasts tlsrpt collect --postfix-log - --sending-ip 192.0.2.1": {stdout: "lines read"},
	"mtasts tlsrpt pending": {},
	`mtasts tlsrpt send --org "Example Mail" --contact postmaster@example.net --submitter example.net --dkim-key /etc/mtasts/dkim.pem --dkim-selector tlsrpt`: {},
	// Test.
	"./scripts/test.sh": {elsewhere: "CI (.ci/run) runs it; it runs this test"},
}

// readmeCommands returns the commands of README.md's sh blocks in order,
// each with its block's number.
func readmeCommands(t *testing.T) (cmds []string, blocks []int) {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	comment := regexp.MustCompile(`(^|\s+)#.*$`)
	block, inSH := 0, false
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```sh"):
			block, inSH = block+1, true
			continue
		case strings.HasPrefix(line, "```"):
			inSH = false
			continue
		case !inSH:
			continue
		}
		line = strings.TrimSpace(comment.ReplaceAllString(line, ""))
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			cur += strings.TrimSpace(rest) + " "
			continue
		}
		if line = strings.TrimSpace(cur + line); line != "" {
			cmds, blocks = append(cmds, line), append(blocks, block)
		}
		cur = ""
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cmds, blocks
}

// TestREADME runs every example of README.md the way a newcomer would: as
// an unprivileged user, in a fresh directory, with relative paths, against
// a test world that is the internet inside a network namespace (its DNS
// answers on 127.0.0.1:53, its hosts on their real ports). Paths the
// README takes from an installed system (/etc/mtasts, /run/mtasts) point
// at the test's files, and journalctl is a real Postfix log.
func TestREADME(t *testing.T) {
	testpostfix.Require(t)
	cmds, blocks := readmeCommands(t)
	seen := map[string]bool{}
	for _, c := range cmds {
		seen[c] = true
		if _, ok := readmeSteps[c]; !ok {
			t.Errorf("README example %q is not run: add it to readmeSteps", c)
		}
	}
	for c := range readmeSteps {
		if !seen[c] {
			t.Errorf("readmeSteps holds %q, which the README no longer has", c)
		}
	}
	if t.Failed() {
		return
	}

	w := testworld.New(t)
	w.DNS.Add("example.com. MX 10 mx1.example.com.")
	w.SMTP("mx1.example.com", testworld.SMTPOptions{})
	w.PolicyDomain("example.com", "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 604800\n")
	w.DNS.TXT("_smtp._tls.example.com", "v=TLSRPTv1; rua=mailto:tlsrpt@example.com")
	ns := testpostfix.NewNamespace(t)
	ns.ServeWorld(w, map[string][]int{"mx1.example.com": {25}, "mta-sts.example.com": {443}})

	work := newcomerDir(t, w)
	bin := filepath.Join(work, "bin")
	env := []string{"PATH=" + bin + ":/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + filepath.Join(work, "home"),
		"SSL_CERT_FILE=" + filepath.Join(work, "ca.pem"), "LANG=C.UTF-8",
		"MAIL_CONFIG=" + filepath.Join(work, "postfix")} // postmap's main.cf
	repl := strings.NewReplacer(
		"/etc/mtasts/mtasts.toml", filepath.Join(work, "etc", "mtasts.toml"),
		"/etc/mtasts/dkim.pem", filepath.Join(work, "etc", "dkim.pem"),
		"/run/mtasts/", filepath.Join(work, "run")+"/",
		"journalctl -u postfix -o short-iso -f", "cat "+filepath.Join(work, "mail.log"),
	)
	config := filepath.Join(work, "etc", "mtasts.toml")

	var bg *exec.Cmd
	var bgLine string
	stopBackground := func() {
		if bg == nil {
			return
		}
		bg.Process.Signal(syscall.SIGTERM)
		if err := bg.Wait(); err != nil {
			t.Errorf("%s: after SIGTERM: %v", bgLine, err)
		}
		bg = nil
	}
	defer stopBackground()
	for i, c := range cmds {
		step := readmeSteps[c]
		if i > 0 && blocks[i] != blocks[i-1] {
			stopBackground()
		}
		if step.elsewhere != "" {
			continue
		}
		line := repl.Replace(c)
		// Commands that read serve's configuration find it where the
		// package installs it; here it is the test's.
		if (strings.HasPrefix(line, "mtasts promote") || strings.HasPrefix(line, "mtasts demote") || strings.HasPrefix(line, "mtasts status")) && !strings.Contains(line, "--config") {
			line += " --config " + config
		}
		newCmd := func(ctx context.Context) *exec.Cmd {
			if step.root {
				cmd := exec.CommandContext(ctx, "bash", "-c", line)
				cmd.Dir = "../.."
				cmd.Env = append(os.Environ(), "GOBIN="+bin)
				return cmd
			}
			cmd := ns.Command(ctx, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "bash", "-c", line)
			cmd.Dir, cmd.Env = work, env
			return cmd
		}
		if step.background {
			stopBackground()
			var stderr testenv.Buffer
			bg, bgLine = newCmd(context.Background()), c
			bg.Stderr = &stderr
			if err := bg.Start(); err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			waitListening(t, ns, step.ready, c, &stderr)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := newCmd(ctx)
		var stdout, stderr testenv.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if code != step.exit || !strings.Contains(stdout.String(), step.stdout) {
			t.Errorf("README example %q: exit %d, want %d; stdout wants %q:\n%s\nstderr:\n%s", c, code, step.exit, step.stdout, stdout.String(), stderr.String())
		}
	}
}

// newcomerDir makes the working directory of TestREADME, owned by the
// unprivileged user: a home with a Maildir of report mail, reports, a list
// of domains, a serve and daemon configuration serving example.com in
// mode testing, a DKIM key, the world's CA and a real Postfix log. The
// mtasts binary goes to its bin directory.
func newcomerDir(t *testing.T, w *testworld.World) string {
	t.Helper()
	work, err := os.MkdirTemp("", "mtasts-readme-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	write := func(name, data string) {
		path := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile := func(name, from string) {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		write(name, string(data))
	}
	copyFile("home/Maildir/.tlsrpt/new/1.eml", ingestData+"mail/google.eml")
	for _, dir := range []string{"home/Maildir/.tlsrpt/cur", "home/Maildir/.tlsrpt/tmp", "run", "bin"} {
		if err := os.MkdirAll(filepath.Join(work, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("reports/microsoft.json.gz", ingestData+"reports/microsoft.com!example.com!1795132800!1795219199!134090784000000000.json.gz")
	write("domains.txt", "example.com\n")
	write("postfix/main.cf", "compatibility_level = 3.6\n")
	copyFile("ca.pem", w.CAFile())
	copyFile("mail.log", "../../tlsrptsend/testdata/postfix/postfix-3.7-real.log")
	if err := os.MkdirAll(filepath.Join(work, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	testworld.WriteCertFiles(t, filepath.Join(work, "etc"), "example.com", w.CA.Valid(t, "mta-sts.example.com"))
	write("etc/mtasts.toml", `[serve]
listen_https = "127.0.0.1:8443"
listen_http = ""
listen_metrics = ""
data_dir = "data"

[[domain]]
name = "example.com"
mode = "testing"
mx = ["mx1.example.com"]
cert_file = "example.com.crt"
key_file = "example.com.key"

[daemon]
cache = "sqlite:cache.db"
`)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write("etc/dkim.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	if out, err := exec.Command("go", "build", "-o", filepath.Join(work, "bin", "mtasts"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := exec.Command("chown", "-R", "65534:65534", work).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	return work
}

// waitListening waits until addr accepts connections inside ns, or fails
// with the service's output.
func waitListening(t *testing.T, ns *testpostfix.Namespace, addr, what string, stderr *testenv.Buffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := ns.Dial(ctx, "tcp", addr)
		cancel()
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not listening on %s: %v\n%s", what, addr, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
