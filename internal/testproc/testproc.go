package testproc

import (
	"os/exec"
	"testing"
	"time"
)

// Command is exec.Command for a child that dies with the test process (on Linux).
func Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = sysProcAttr()
	return cmd
}

// Await waits up to timeout for a program the test runs to end, as done reports it (the
// error of a child's Wait, or of a command run in process): an error, or no end by then,
// fails the test.
func Await(tb testing.TB, done <-chan error, timeout time.Duration, what string) {
	tb.Helper()
	select {
	case err := <-done:
		if err != nil {
			tb.Fatalf("%s ended with %v", what, err)
		}
	case <-time.After(timeout):
		tb.Fatalf("%s did not end within %v", what, timeout)
	}
}
