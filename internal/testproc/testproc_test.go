package testproc

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// fatalTB records what Await fails with instead of ending the test.
type fatalTB struct {
	testing.TB
	failed string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

// TestAwait: a clean end passes; an error, or no end within the bound, fails the test
// with what ended and how.
func TestAwait(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(chan error)
		want string
	}{
		{"clean", func(c chan error) { c <- nil }, ""},
		{"error", func(c chan error) { c <- errors.New("exit status 2") }, "prog ended with exit status 2"},
		{"hang", func(chan error) {}, "prog did not end within 50ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			tc.end(done)
			f := &fatalTB{TB: t}
			Await(f, done, 50*time.Millisecond, "prog")
			if f.failed != tc.want {
				t.Errorf("failed with %q, want %q", f.failed, tc.want)
			}
		})
	}
}
