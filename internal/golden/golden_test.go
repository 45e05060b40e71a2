package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeT records whether a check failed, without failing the test that runs it.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Fatalf(string, ...any) { f.failed = true }
func (f *fakeT) Fatal(...any)          { f.failed = true }

// TestCheck: update writes the file (making its directory); a check of the same text
// passes, of other text or of a missing file fails.
func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "x.golden")
	Check(t, path, "one\n", true)
	if b, err := os.ReadFile(path); err != nil || string(b) != "one\n" {
		t.Fatalf("update wrote %q, %v", b, err)
	}
	for _, c := range []struct {
		path, got string
		fail      bool
	}{{path, "one\n", false}, {path, "two\n", true}, {path + ".missing", "one\n", true}} {
		f := &fakeT{}
		Check(f, c.path, c.got, false)
		if f.failed != c.fail {
			t.Errorf("Check(%s, %q) failed %v, want %v", filepath.Base(c.path), c.got, f.failed, c.fail)
		}
	}
}

// TestLineDiff: only the lines that differ are listed, with their numbers; a line one
// side lacks shows as empty.
func TestLineDiff(t *testing.T) {
	for _, c := range []struct{ want, got, diff string }{
		{"a\nb\n", "a\nb\n", ""},
		{"a\nb\nc\n", "a\nx\nc\n", "line 2:\n  want: b\n   got: x\n"},
		{"a\n", "a\nb\n", "line 2:\n  want: \n   got: b\n"},
	} {
		if d := lineDiff(c.want, c.got); d != c.diff {
			t.Errorf("lineDiff(%q, %q) = %q, want %q", c.want, c.got, d, c.diff)
		}
	}
}
