package testnet

import (
	"io"
	"net"
	"testing"
)

// TestDial: the connection reaches the listener, and the test's end closes it (the
// server then reads EOF).
func TestDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	t.Run("dial", func(t *testing.T) {
		if _, err := Dial(t, ln.Addr().String()).Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	})
	c := <-accepted
	if c == nil {
		t.Fatal("nothing was accepted")
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "x" {
		t.Fatalf("read %q, %v: want x, then EOF once the subtest ended", b, err)
	}
}
