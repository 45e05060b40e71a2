package redistest

import (
	"errors"
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

	"github.com/cepd/cepd/internal/testproc"
)

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 5 * time.Second

// Server is a redis-server process on 127.0.0.1. Its port and directory stay the same
// across Stop and Start.
type Server struct {
	// Addr is "127.0.0.1:<port>".
	Addr string

	t    testing.TB
	bin  string
	dir  string
	args []string
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has exited
}

// Start starts a standalone redis-server and returns its address.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).Addr
}

// StartServer starts a standalone redis-server; extra arguments (such as
// "--maxmemory", "10mb") are appended to the command line and override the defaults.
func StartServer(t testing.TB, extra ...string) *Server {
	t.Helper()
	return start(t, extra)
}

// StartCluster starts a redis-server in cluster mode, assigns it every slot and returns
// its address once it reports cluster_state:ok, which a new master does only 2 s after it
// starts (Redis's CLUSTER_WRITABLE_DELAY): run such tests in parallel. Connect with a
// Cluster client.
func StartCluster(t testing.TB) string {
	t.Helper()
	s := start(t, []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"})
	if _, err := command(s.Addr, "CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil {
		t.Fatalf("redistest: CLUSTER ADDSLOTSRANGE: %v", err)
	}
	deadline := time.Now().Add(startTimeout)
	for {
		info, err := command(s.Addr, "CLUSTER", "INFO")
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return s.Addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: cluster on %s not ok after %v: %v %s", s.Addr, startTimeout, err, info)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func start(t testing.TB, extra []string) *Server {
	t.Helper()
	return startConf(t, "", extra)
}

// startConf starts a server whose configuration file, when conf is not empty, holds conf
// (written into the server's directory, where Sentinel may rewrite it).
func startConf(t testing.TB, conf string, extra []string) *Server {
	t.Helper()
	bin := binary(t)
	var err error
	for range 3 { // another process may take the port between freePort and the bind
		port, perr := freePort()
		if perr != nil {
			t.Fatalf("redistest: %v", perr)
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), t: t, bin: bin, dir: t.TempDir()}
		if conf != "" { // a configuration file comes first
			f := filepath.Join(s.dir, "redis.conf")
			if err := os.WriteFile(f, []byte(conf), 0o644); err != nil {
				t.Fatalf("redistest: %v", err)
			}
			s.args = []string{f}
		}
		// The cluster bus listens on port+10000: keep it on loopback too.
		s.args = append(s.args, append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", s.dir,
			"--logfile", "redis.log", "--save", "", "--appendonly", "no"}, extra...)...)
		t.Cleanup(s.kill)
		if err = s.run(); err == nil {
			return s
		}
	}
	t.Fatalf("redistest: %v", err)
	return nil
}

// binary finds redis-server or fails the test saying how to install it.
func binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/bin", "/usr/local/bin", "/usr/sbin"} {
		p := filepath.Join(dir, "redis-server")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	t.Fatal("redistest: redis-server not found in PATH, /usr/bin, /usr/local/bin or /usr/sbin: " +
		"these tests need a real Redis; install it with `apt-get update && apt-get install -y redis-server`")
	return ""
}

// FreePort returns a port that was free on 127.0.0.1 a moment ago, for a server a test
// starts itself (a TLS port, say).
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return p
}

// freePort returns a port that was free on 127.0.0.1 a moment ago, with port+10000 (a
// cluster node's bus port) in range.
func freePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port+10000 <= 65535 {
			return port, nil
		}
	}
	return 0, errors.New("no free port below 55536")
}

// Stop shuts the server down (SIGTERM) and waits for it to exit; its data is gone. Stop
// of a stopped server does nothing.
func (s *Server) Stop() {
	if !s.running() {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // in case the test stopped it (Signal)
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exit:
	case <-time.After(startTimeout):
		s.kill()
	}
}

// Start starts a stopped server again on the same port and waits until it answers PING;
// it fails the test if it cannot. Start of a running server does nothing.
func (s *Server) Start() {
	s.t.Helper()
	if s.running() {
		return
	}
	if err := s.run(); err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
}

// run starts the process and waits until it answers PING.
func (s *Server) run() error {
	cmd := testproc.Command(s.bin, s.args...)
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	exit := make(chan struct{})
	go func() { cmd.Wait(); close(exit) }()
	s.cmd, s.exit = cmd, exit
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exit:
			return fmt.Errorf("redis-server on %s exited: %s", s.Addr, s.logTail())
		default:
		}
		if answers(s.Addr) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.kill()
	return fmt.Errorf("redis-server on %s not answering PING after %v: %s", s.Addr, startTimeout, s.logTail())
}

func (s *Server) running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exit:
		return false
	default:
		return true
	}
}

// Port is the server's port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Signal sends sig to the running server: SIGSTOP hangs it (connections open, no
// answers), SIGCONT resumes it. Stop and Kill resume a stopped server first.
func (s *Server) Signal(sig syscall.Signal) {
	if s.running() {
		s.cmd.Process.Signal(sig)
	}
}

// answers reports whether a server answers on addr: PONG, or an error reply such as
// NOAUTH when the default user is off.
func answers(addr string) bool {
	reply, err := command(addr, "PING")
	if err == nil {
		return reply == "PONG"
	}
	var re replyError
	return errors.As(err, &re)
}

// Kill stops the server with SIGKILL, as a crash would (a no-op if it is not running).
// Without persistence (the default) a Start after it brings the server back empty.
func (s *Server) Kill() { s.kill() }

// kill stops the server with SIGKILL (a no-op if it is not running).
func (s *Server) kill() {
	if !s.running() {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT)
	s.cmd.Process.Kill()
	<-s.exit
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
