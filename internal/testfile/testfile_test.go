package testfile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriter: a written file holds the text, a second write replaces it.
func TestWriter(t *testing.T) {
	dir := t.TempDir()
	write := Writer(t, dir)
	for _, text := range []string{"one\ntwo\n", "three"} {
		write("a.yaml", text)
		if b, err := os.ReadFile(filepath.Join(dir, "a.yaml")); err != nil || string(b) != text {
			t.Fatalf("read %q, %v; want %q", b, err, text)
		}
	}
}

// fakeT records whether a write failed, without failing the test that runs it.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper()      {}
func (f *fakeT) Fatal(...any) { f.failed = true }

// TestWriterFails: a file that cannot be written fails the test.
func TestWriterFails(t *testing.T) {
	f := &fakeT{}
	Writer(f, filepath.Join(t.TempDir(), "missing"))("a.yaml", "x")
	if !f.failed {
		t.Fatal("writing into a missing directory did not fail the test")
	}
}
