package testproc

import "os/exec"

// Command is exec.Command for a child that dies with the test process (on Linux).
func Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = sysProcAttr()
	return cmd
}
