package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/cepd/cepd/internal/testproc"
)

// TestServeLoopsSwitchedOff: a background loop a flag switches off (--checkpoint-interval
// 0: only the final checkpoint; --state-walk-interval 0: no walk) does not stop serve, as
// a part that returns before the stop does.
func TestServeLoopsSwitchedOff(t *testing.T) {
	for _, flag := range []string{"--checkpoint-interval", "--state-walk-interval"} {
		t.Run(flag, func(t *testing.T) {
			dir := serveDir(t)
			cmd := newServeCmd()
			cmd.SetOut(io.Discard)
			cmd.SetArgs([]string{"--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--rules", filepath.Join(dir, "rules"),
				"--data", filepath.Join(dir, "data"), flag, "0"})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- cmd.ExecuteContext(ctx) }()
			select {
			case err := <-done:
				t.Fatalf("serve with %s 0 stopped by itself (err %v)", flag, err)
			case <-time.After(1500 * time.Millisecond):
			}
			cancel()
			testproc.Await(t, done, 30*time.Second, "serve after its context ended")
		})
	}
}
