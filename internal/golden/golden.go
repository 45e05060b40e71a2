package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// Check fails t unless got is the content of the file at path; with update it writes got
// to path instead (making its directory), for the developer to read and commit.
func Check(t testing.TB, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update to accept)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}
