package logfile

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	f, size, err := Open(filepath.Join(dir, "missing.log"))
	if f != nil || size != 0 || err != nil {
		t.Fatalf("missing log: %v, %d, %v; want nil, 0, nil", f, size, err)
	}
	path := filepath.Join(dir, "a.log")
	if err := os.WriteFile(path, []byte("one\ntwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, size, err = Open(path)
	if err != nil || f == nil || size != 8 {
		t.Fatalf("log: %v, %d, %v; want a file of 8 bytes", f, size, err)
	}
	defer f.Close()
	if b, err := io.ReadAll(f); err != nil || string(b) != "one\ntwo\n" {
		t.Fatalf("read %q, %v", b, err)
	}
	if f, _, err := Open(dir + "/a.log/x"); err == nil || f != nil {
		t.Fatalf("a path under a file: %v, %v; want an error", f, err)
	}
}
