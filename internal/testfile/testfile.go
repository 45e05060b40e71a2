package testfile

import (
	"os"
	"path/filepath"
	"testing"
)

// Writer returns a function that writes text to the file name in dir (replacing it),
// failing t if it cannot.
func Writer(t testing.TB, dir string) func(name, text string) {
	return func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
