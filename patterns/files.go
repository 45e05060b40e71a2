package patterns

import (
	"path/filepath"
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
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}
