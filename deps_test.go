package cepd

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/cepd/cepd"

// Third-party modules the core packages may build on (beside the standard library).
var (
	yaml = []string{"gopkg.in/yaml.v3"}
	cel  = []string{"cel.dev/", "github.com/antlr4-go/antlr", "go.yaml.in/yaml", "golang.org/x/exp",
		"google.golang.org/genproto", "google.golang.org/protobuf"}
	jsonparser = []string{"github.com/buger/jsonparser"}
)

// coreDeps lists, per core package, every package of this module and every third-party
// module it may depend on, directly or not. Heavy dependencies (sarama, go-redis, grpc,
// Prometheus) stay in adapter packages and cmd/cepd: a core package that starts pulling
// one in fails here.
var coreDeps = []struct {
	pkg        string
	ours       []string
	thirdParty [][]string
}{
	{"patterns", nil, [][]string{yaml}},
	{"nfa", []string{"patterns", "event"}, [][]string{yaml}},
	{"event", nil, [][]string{yaml}},
	{"event/jsondecode", []string{"event"}, [][]string{yaml, jsonparser}},
	{"internal/logfile", nil, nil},
	{"alerts", []string{"internal/logfile"}, nil},
	{"velocity", nil, nil},
	{"rules/refdata", nil, nil},
	{"state", []string{"patterns", "event", "nfa", "internal/logfile"}, [][]string{yaml}},
	{"rules", []string{"patterns", "event", "nfa", "rules/refdata", "velocity"}, [][]string{yaml, cel}},
	{"engine", []string{"patterns", "event", "event/jsondecode", "nfa", "rules", "rules/refdata", "velocity", "state", "alerts", "internal/logfile"}, [][]string{yaml, cel, jsonparser}},
	{"backtest", []string{"patterns", "event", "event/jsondecode", "nfa", "rules", "rules/refdata", "velocity", "state", "alerts", "engine", "internal/logfile", "internal/defaults"}, [][]string{yaml, cel, jsonparser}},
}

// TestCoreDependencies: each core package depends only on what coreDeps allows it, as
// `go list -deps` reports.
func TestCoreDependencies(t *testing.T) {
	for _, c := range coreDeps {
		t.Run(c.pkg, func(t *testing.T) {
			for _, dep := range nonStandardDeps(t, module+"/"+c.pkg) {
				if !allowed(dep, c.pkg, c.ours, slices.Concat(c.thirdParty...)) {
					t.Errorf("%s depends on %s, which coreDeps does not allow it", c.pkg, dep)
				}
			}
		})
	}
}

// TestAllowedCatchesAHeavyDependency: the check refuses what a core package must not
// reach, so TestCoreDependencies can fail.
func TestAllowedCatchesAHeavyDependency(t *testing.T) {
	for _, dep := range []string{"github.com/IBM/sarama", "github.com/redis/go-redis/v9", "google.golang.org/grpc", module + "/engine", "github.com/buger/jsonparser"} {
		if allowed(dep, "nfa", []string{"patterns", "event"}, yaml) {
			t.Errorf("nfa would be allowed %s", dep)
		}
	}
	if !allowed(module+"/patterns", "nfa", []string{"patterns"}, nil) || !allowed("gopkg.in/yaml.v3", "nfa", nil, yaml) {
		t.Error("allowed refuses what the list allows")
	}
}

func allowed(dep, pkg string, ours, thirdParty []string) bool {
	if rest, ok := strings.CutPrefix(dep, module+"/"); ok {
		return rest == pkg || slices.Contains(ours, rest)
	}
	return slices.ContainsFunc(thirdParty, func(p string) bool { return strings.HasPrefix(dep, p) })
}

// nonStandardDeps returns the packages pkg depends on, itself included, that are not in
// the standard library.
func nonStandardDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr)
	}
	return strings.Fields(string(out))
}
