package main

import (
	"bufio"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cepd/cepd/internal/testnet"
	"github.com/cepd/cepd/internal/testproc"
)

// TestMain runs main when re-executed by TestProgram.
func TestMain(m *testing.M) {
	if os.Getenv("DEVKAFKA_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestProgram: devkafka prints "ready ADDR", accepts connections there, and exits
// cleanly on SIGTERM.
func TestProgram(t *testing.T) {
	cmd := testproc.Command(os.Args[0], "-port", "0", "-partitions", "3", "-topics", "a,b", "-quiet")
	cmd.Env = append(os.Environ(), "DEVKAFKA_RUN_MAIN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(10 * time.Second):
		t.Fatal("devkafka did not print ready")
	}
	addr, ok := strings.CutPrefix(line, "ready ")
	if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("first line %q, want ready 127.0.0.1:PORT", line)
	}
	testnet.Dial(t, addr).Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	testproc.Await(t, done, 10*time.Second, "devkafka after SIGTERM")
}
