package engine

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cepd/cepd/event/eventtest"
	"github.com/cepd/cepd/internal/testfile"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules"
)

// ruleSetSchemaYAML is the schema file of the rule directories of these tests.
var ruleSetSchemaYAML = eventtest.CardSchema("ts: timestamp", "amount: double", "country: string", "vip: bool")

// TestLoadRuleSet: a directory's rule files (patterns.IsRuleFile) compile into a rule set
// sorted by id; every problem of every file comes back at once, and no rule set.
func TestLoadRuleSet(t *testing.T) {
	dir := t.TempDir()
	write := testfile.Writer(t, dir)
	write("schema.yaml", ruleSetSchemaYAML)
	write("b.yaml", "id: zeta\npattern:\n  - name: a\n    where: e.amount > 1.0\n")
	write("a.yml", "id: alpha\npattern:\n  - name: a\n    where: e.country == 'FR'\n")
	write("c.json", `{"id": "mid", "pattern": [{"name": "a", "where": "e.vip"}]}`)
	write("notes.txt", "not a rule")
	write("a.test.yaml", "not a rule either")
	rs, err := LoadRuleSet(dir, "", rules.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range rs.Rules {
		ids = append(ids, c.Rule.ID)
	}
	if got := strings.Join(ids, ","); got != "alpha,mid,zeta" {
		t.Errorf("ids %s", got)
	}
	if rs.Schema == nil || rs.Schema.KeyField != "card" {
		t.Errorf("schema %+v", rs.Schema)
	}
	one, err := LoadRuleSet(filepath.Join(dir, "b.yaml"), "", rules.EnvOptions{})
	if err != nil || len(one.Rules) != 1 || one.Rules[0].Rule.ID != "zeta" {
		t.Fatalf("one file: %v %v", one, err)
	}
	write("d.yaml", "id: alpha\npattern:\n  - name: a\n    where: e.amount > 1.0\n")
	write("e.yaml", "id: e\npattern:\n  - name: a\n    where: e.amout > 1.0\n")
	write("f.yaml", "id: f\npattern: [\n")
	rs, err = LoadRuleSet(dir, "", rules.EnvOptions{})
	if rs != nil || err == nil {
		t.Fatalf("loaded %v, err %v", rs, err)
	}
	var el patterns.ErrorList
	if !errors.As(err, &el) || len(el) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
	for i, want := range []string{"d.yaml: rule id \"alpha\" is already used by " + filepath.Join(dir, "a.yml"), "e.yaml:4:13: where: undefined field 'amout'", "f.yaml:"} {
		if !strings.Contains(el[i].Error(), want) {
			t.Errorf("error %d: %s\nwant %s", i, el[i].Error(), want)
		}
	}
}
