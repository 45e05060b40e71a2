package patterns

import (
	"path/filepath"
	"slices"
	"strings"
)

// SchemaFile is the name of the event schema file that may sit among the rule files.
const SchemaFile = "schema.yaml"

// TestSuffix ends the name of a rule test file (card-testing.test.yaml beside
// card-testing.yaml); such files are read by cepd test, never loaded as rules.
const TestSuffix = ".test.yaml"

// IsRuleFile reports whether a directory entry named name holds a rule: a .yaml, .yml or
// .json file that is neither the schema, a rule test file nor hidden. It is the one place
// that decides which files of a rule directory are rules.
func IsRuleFile(name string) bool {
	if name == SchemaFile || strings.HasPrefix(name, ".") || strings.HasSuffix(strings.ToLower(name), TestSuffix) {
		return false
	}
	exts := ruleExts()
	return slices.Contains(exts[:], strings.ToLower(filepath.Ext(name)))
}

// ruleExts are the endings of rule files, in the order TestedRuleFiles tries them.
func ruleExts() [3]string { return [3]string{".yaml", ".yml", ".json"} }

// TestedRuleFiles returns the files that may hold the rule a test file tests, in the order
// to try them: NAME.yaml, NAME.yml, NAME.json beside NAME.test.yaml.
func TestedRuleFiles(testFile string) []string {
	base := strings.TrimSuffix(testFile, TestSuffix)
	exts := ruleExts()
	out := make([]string, len(exts))
	for i, ext := range exts {
		out[i] = base + ext
	}
	return out
}
