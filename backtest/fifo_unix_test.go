//go:build unix

package backtest

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestEventsFileFIFO: a named pipe in the events directory is refused without blocking.
func TestEventsFileFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.jsonl"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, Options{EventsDir: dir})
	_, err := m.Create(context.Background(), Spec{Rules: []Rule{fraudRule(t, "card-testing")}, EventsFile: "pipe.jsonl"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("a named pipe: %v", err)
	}
}
