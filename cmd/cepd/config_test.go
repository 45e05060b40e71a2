package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// serveFlagSet returns every flag serve takes: its own and the root's persistent ones.
func serveFlagSet() *pflag.FlagSet {
	root := newRootCmd()
	var fs pflag.FlagSet
	for _, c := range root.Commands() {
		if c.Name() == "serve" {
			fs.AddFlagSet(c.Flags())
		}
	}
	fs.AddFlagSet(root.PersistentFlags())
	return &fs
}

// configDoc renders the table of config keys: every serve flag but config and help.
func configDoc() string {
	var rows []string
	serveFlagSet().VisitAll(func(f *pflag.Flag) {
		if f.Name == "config" || f.Name == "help" {
			return
		}
		def := f.DefValue
		if def == "" || def == "[]" {
			def = "—"
		} else {
			def = "`" + def + "`"
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s | %s |", f.Name, f.Value.Type(), def, strings.ReplaceAll(f.Usage, "|", `\|`)))
	})
	sort.Strings(rows)
	return "| key | type | default | meaning |\n| --- | --- | --- | --- |\n" + strings.Join(rows, "\n") + "\n"
}

const (
	configBegin = "<!-- config-keys:begin -->\n"
	configEnd   = "<!-- config-keys:end -->"
)

// TestConfigDoc: docs/operations.md documents every key of the --config file (every
// serve flag) with its type, default and meaning; -update rewrites the table.
func TestConfigDoc(t *testing.T) {
	path := "../../docs/operations.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(doc, []byte(configBegin)), bytes.Index(doc, []byte(configEnd))
	if i < 0 || j < i {
		t.Fatalf("%s has no %q ... %q markers", path, configBegin, configEnd)
	}
	want := configDoc()
	if got := string(doc[i+len(configBegin) : j]); got != want {
		if !*updateFraud {
			t.Fatalf("the configuration table in %s is stale: go test ./cmd/cepd -run TestConfigDoc -update", path)
		}
		out := append(append(append([]byte{}, doc[:i+len(configBegin)]...), want...), doc[j:]...)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConfigFileErrors: the --config file is checked completely at start, each mistake
// reported with the file, line and column, before anything is opened.
func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ yaml, want string }{
		{"kafka-grup: x\n", `cepd.yaml:1:1: unknown setting "kafka-grup"`},
		{"shards: 2\nout-of-orderness: 5 seconds\n", "cepd.yaml:2:19: out-of-orderness"},
		{"idle-timeout: 10s\nshards: 2\nidle-timeout: 5s\n", "cepd.yaml:3:1: idle-timeout is set twice (first on line 1)"},
		{"config: other.yaml\n", `cepd.yaml:1:1: unknown setting "config"`},
		{"demo: maybe\n", "cepd.yaml:1:7: demo"},
		{"log-format: xml\n", `--log-format "xml": want text or json`},
		{"- a\n- b\n", "cepd.yaml:1:1: want a mapping"},
		{"checkpoint-interval: -1s\n", "--checkpoint-interval -1s: must not be negative"},
		{"late-policy: ignore\n", `late policy "ignore": want dead-letter, drop or process`},
		{"shards: 5000\n", "5000 shards is more than 1024"},
	} {
		path := filepath.Join(dir, "cepd.yaml")
		if err := os.WriteFile(path, []byte(c.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		root := newRootCmd()
		root.SetArgs([]string{"serve", "--config", path, "--data", filepath.Join(dir, "data"), "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"})
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		err := root.ExecuteContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.yaml, err, c.want)
		}
		if _, serr := os.Stat(filepath.Join(dir, "data")); serr == nil {
			t.Errorf("%q: the data directory was created before the settings were refused", c.yaml)
			os.RemoveAll(filepath.Join(dir, "data"))
		}
	}
}

// TestExampleConfigs: the example settings (deploy/cepd.yaml, the Kubernetes ConfigMap's)
// load, and the log settings in a config file take effect.
func TestExampleConfigs(t *testing.T) {
	if err := applyConfigFile(serveFlagSet(), "../../deploy/cepd.yaml"); err != nil {
		t.Fatal(err)
	}
}
