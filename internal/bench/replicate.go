package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/refdata"
)

// Replicate loads the rule set with every rule repeated n times under distinct ids
// (id, id-x2, …). gen > 0 changes one rule (a new fingerprint) the way an analyst's edit
// would, so a reload swaps in one fresh rule and keeps the others. The rules read the
// lists and tables of path's directory (its data/).
func Replicate(path, schemaPath string, n, gen int) (*engine.RuleSet, error) {
	if n <= 1 && gen == 0 {
		return engine.LoadRuleSet(path, schemaPath, rules.EnvOptions{})
	}
	n = max(n, 1)
	dir, err := os.MkdirTemp("", "cepd-rules-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	src := path
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		src = filepath.Dir(path)
	}
	if schemaPath == "" {
		schemaPath = filepath.Join(src, patterns.SchemaFile)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil, err
	}
	// the rules read the lists and tables of the directory they came from
	if st, err := os.Stat(filepath.Join(src, refdata.DirName)); err == nil && st.IsDir() {
		abs, err := filepath.Abs(filepath.Join(src, refdata.DirName))
		if err != nil {
			return nil, err
		}
		if err := os.Symlink(abs, filepath.Join(dir, refdata.DirName)); err != nil {
			return nil, fmt.Errorf("the rules' data: %w", err)
		}
	}
	first := true
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !patterns.IsRuleFile(name) || filepath.Ext(name) == ".json" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return nil, err
		}
		text := string(data)
		id := ""
		for _, line := range strings.Split(text, "\n") {
			if rest, ok := strings.CutPrefix(line, "id: "); ok {
				id = strings.TrimSpace(rest)
				break
			}
		}
		for i := 1; i <= n; i++ {
			t := text
			if i > 1 {
				t = strings.Replace(t, "id: "+id, fmt.Sprintf("id: %s-x%d", id, i), 1)
			}
			if first && i == 1 && gen > 0 { // the edited rule: a new window changes its fingerprint
				t = strings.Replace(t, "\npattern:", fmt.Sprintf("\n# edit %d\nwithin: %dh\npattern:", gen, 200+gen), 1)
				t = removeFirstWithin(t, gen)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.yaml", strings.TrimSuffix(name, filepath.Ext(name)), i)), []byte(t), 0o644); err != nil {
				return nil, err
			}
		}
		first = false
	}
	return engine.LoadRuleSet(dir, schemaPath, rules.EnvOptions{})
}

// removeFirstWithin drops an existing top-level within line other than the edit's own.
func removeFirstWithin(t string, gen int) string {
	mine := fmt.Sprintf("within: %dh", 200+gen)
	lines := strings.Split(t, "\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.HasPrefix(l, "within:") && l != mine {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
