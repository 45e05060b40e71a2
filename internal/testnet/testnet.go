package testnet

import (
	"net"
	"testing"
	"time"
)

// Dial opens a TCP connection to addr (within five seconds), closed when the test ends;
// a dial that fails fails the test. A test may close it earlier itself.
func Dial(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatalf("dial %s: %v", addr, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}
