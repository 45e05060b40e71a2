package conformance

import "testing"

const extraCorpus = "../testdata/conformance"

// TestExtraCorpus runs the additional cases transcribed from Flink's CEP test classes.
func TestExtraCorpus(t *testing.T) {
	cases, err := Load(extraCorpus)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("no cases under %s", extraCorpus)
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
