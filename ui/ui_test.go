package ui

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/rules"
)

// TestDistComplete checks that the committed build is there and that every asset
// index.html references is embedded and served.
func TestDistComplete(t *testing.T) {
	index, err := fs.ReadFile(Dist(), "index.html")
	if err != nil {
		t.Fatalf("dist/index.html missing (run ui/build.sh): %v", err)
	}
	refs := regexp.MustCompile(`(?:src|href)="/?(assets/[^"]+)"`).FindAllStringSubmatch(string(index), -1)
	if len(refs) < 2 {
		t.Fatalf("index.html references %d assets, want a script and a stylesheet at least", len(refs))
	}
	h := Handler()
	for _, m := range refs {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/"+m[1], nil))
		if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Errorf("GET /%s: %d, %d bytes", m[1], rec.Code, rec.Body.Len())
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("GET /: %d, Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
	}
}

// TestRuleTemplateCompiles: the source a new rule starts from in the editor
// (src/rule-template.yaml) compiles against the shipped fraud schema, so an analyst's
// first draft does not fail on the template itself.
func TestRuleTemplateCompiles(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("src", "rule-template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := rules.NewEnv(fraudtest.Schema(t), rules.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := rules.CompileSource("rule-template.yaml", src, "", env, rules.NewRegistry()); errs != nil {
		t.Fatalf("the new-rule template does not compile:\n%v", errs)
	}
}
