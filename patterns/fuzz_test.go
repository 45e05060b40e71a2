package patterns

import (
	"errors"
	"os"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that every failure is a sorted,
// non-empty ErrorList, and that every rule that parses survives Format → Parse
// unchanged, with Format a fixed point.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"valid", "errors"} {
		for _, file := range ruleFiles(f, dir) {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("fuzz.yaml", data)
		if err != nil {
			var list ErrorList
			if r != nil || !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("Parse returned %v, %T %v", r, err, err)
			}
			for i, e := range list {
				if e.Msg == "" {
					t.Fatalf("empty message in %v", list)
				}
				if i > 0 && (e.Pos.Line < list[i-1].Pos.Line ||
					e.Pos.Line == list[i-1].Pos.Line && e.Pos.Col < list[i-1].Pos.Col) {
					t.Fatalf("errors not sorted: %v", list)
				}
			}
			return
		}
		_ = r.Pattern.String()
		checkRoundTrip(t, r, Format(r))
	})
}
