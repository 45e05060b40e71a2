package conformance

import (
	"testing"
)

const corpus = "../../shared/conformance/cases"

func TestCorpusSimpleCEL(t *testing.T) {
	cases, err := Load(corpus)
	if err != nil {
		t.Fatal(err)
	}
	pass := 0
	for _, c := range cases {
		o := Run(c, WithConditions(simpleCEL))
		if o.Pass {
			pass++
			continue
		}
		t.Errorf("%s (%s)\n%s", c.ID, c.Source, o.Detail)
	}
	t.Logf("%d passed, %d failed", pass, len(cases)-pass)
}
