package cepd

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestReadmePackageMap: the README's package map (its "## Packages" section) names every
// package of the module, and names none that is gone, so the map reads as the code is.
func TestReadmePackageMap(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Packages\n")
	if !ok {
		t.Fatal("README.md has no ## Packages section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("\\[`([a-z0-9/_]+)`\\]\\(([a-z0-9/_]+)\\)").FindAllStringSubmatch(section, -1) {
		if m[1] != m[2] {
			t.Errorf("the map's entry %s links to %s", m[1], m[2])
		}
		named[m[1]] = true
	}
	out, err := exec.Command("go", "list", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
		if rel == "" {
			continue // the module root holds only these tests
		}
		pkgs[rel] = true
		if !named[rel] {
			t.Errorf("package %s is not in the README's package map", rel)
		}
	}
	for n := range named {
		if !pkgs[n] {
			t.Errorf("the README's package map names %s, which is no package", n)
		}
	}
}
