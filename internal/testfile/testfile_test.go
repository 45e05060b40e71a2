package testfile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriter: each name is a file of dir holding the text last written to it (a.yaml is
// written twice).
func TestWriter(t *testing.T) {
	files := map[string]string{"a.yaml": "three", "b.csv": "two\n"}
	dir := t.TempDir()
	write := Writer(t, dir)
	write("a.yaml", "one\n")
	for name, text := range files {
		write(name, text)
	}
	for name, want := range files {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s holds %q (%v), want %q", name, b, err, want)
		}
	}
}
