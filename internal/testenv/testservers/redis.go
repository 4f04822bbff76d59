package testservers

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Redis is a running redis-server.
type Redis struct {
	// Addr is "127.0.0.1:port".
	Addr string
}

// URL returns redis://Addr/db.
func (r *Redis) URL(db int) string { return "redis://" + r.Addr + "/" + strconv.Itoa(db) }

// StartRedis starts redis-server on a free port of 127.0.0.1 without
// persistence, its working directory in t.TempDir(). See the package
// documentation for what happens when redis-server is not installed.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin := lookPath("redis-server")
	if bin == "" {
		missing(t, "redis-server", "redis-server")
	}
	dir := t.TempDir()
	port := freePort(t)
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no",
		"--protected-mode", "yes")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s := start(t, cmd, filepath.Join(dir, "redis.log"), syscall.SIGTERM)
	r := &Redis{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	s.waitReady(t, "redis-server", r.ping)
	return r
}

// ping sends PING and expects +PONG.
func (r *Redis) ping() error {
	c, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}
