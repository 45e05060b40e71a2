package redisstore

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a redis-server process started by a test on 127.0.0.1, in a temp dir,
// stopped by the test's cleanup.
type redisServer struct {
	t    testing.TB
	port int
	dir  string
	conf string // config file, if any
	args []string
	cmd  *exec.Cmd
	exit chan struct{}
}

// findBinary finds redis-server or redis-cli, or fails the test saying how to get it.
func findBinary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/bin", "/usr/local/bin", "/usr/sbin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	t.Fatalf("%s not found in PATH, /usr/bin or /usr/local/bin: these tests need a real Redis; "+
		"install it with `apt-get update && apt-get install -y redis-server`", name)
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// freePort returns a port free on 127.0.0.1 (and, for cluster nodes, port+10000 too:
// the cluster bus).
func freePort(t testing.TB, bus bool) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !bus {
			l.Close()
			return port
		}
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		l.Close()
		if err == nil {
			l2.Close()
			return port
		}
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

// startRedis starts a standalone redis-server without persistence (extra arguments are
// appended, and override) and returns once it answers PING.
func startRedis(t testing.TB, extra ...string) *redisServer {
	t.Helper()
	return startServer(t, false, extra...)
}

func startServer(t testing.TB, cluster bool, extra ...string) *redisServer {
	t.Helper()
	var err error
	for range 3 { // another process may take the port between freePort and the bind
		r := &redisServer{t: t, port: freePort(t, cluster), dir: t.TempDir()}
		r.args = []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"}
		if cluster {
			r.args = append(r.args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", "2000")
		}
		r.args = append(r.args, extra...)
		t.Cleanup(r.kill)
		if err = r.start(); err == nil {
			return r
		}
	}
	t.Fatal(err)
	return nil
}

func (r *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

// start runs redis-server on r.port in r.dir and waits until it answers.
func (r *redisServer) start() error {
	var args []string
	if r.conf != "" { // a config file must come first
		args = append(args, r.conf)
	}
	args = append(args, "--port", strconv.Itoa(r.port), "--dir", r.dir, "--logfile", "redis.log")
	args = append(args, r.args...)
	cmd := exec.Command(findBinary(r.t, "redis-server"), args...)
	cmd.Dir = r.dir
	if err := cmd.Start(); err != nil {
		return err
	}
	r.cmd, r.exit = cmd, make(chan struct{})
	go func(exit chan struct{}) { cmd.Wait(); close(exit) }(r.exit)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.exit:
			return fmt.Errorf("redis-server on port %d exited: %s", r.port, r.logTail())
		default:
		}
		if ping(r.addr()) == nil {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.kill()
	return fmt.Errorf("redis-server on port %d not answering after 5s: %s", r.port, r.logTail())
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	// +PONG, or an error such as NOAUTH: the server answers.
	if !strings.HasPrefix(line, "+") && !strings.HasPrefix(line, "-") {
		return fmt.Errorf("PING: %q", line)
	}
	return nil
}

func (r *redisServer) logTail() string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func (r *redisServer) running() bool {
	if r.cmd == nil {
		return false
	}
	select {
	case <-r.exit:
		return false
	default:
		return true
	}
}

// kill stops the server with SIGKILL (no-op if it is not running).
func (r *redisServer) kill() {
	if !r.running() {
		return
	}
	r.cmd.Process.Signal(syscall.SIGCONT) // in case a test stopped it
	r.cmd.Process.Kill()
	<-r.exit
}

// stop shuts the server down with SIGTERM (flushing an AOF) and waits.
func (r *redisServer) stop() {
	if !r.running() {
		return
	}
	r.cmd.Process.Signal(syscall.SIGCONT)
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exit:
	case <-time.After(10 * time.Second):
		r.kill()
	}
}

func (r *redisServer) signal(sig syscall.Signal) {
	if r.running() {
		r.cmd.Process.Signal(sig)
	}
}

// client returns a go-redis client of the server, closed by the test's cleanup.
func (r *redisServer) client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.addr()})
	t.Cleanup(func() { c.Close() })
	return c
}
