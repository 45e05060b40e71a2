package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestOpenAPIListsEveryRoute reads the routes the api package registers beside the gateway
// (every mux.Handle("METHOD /path", …) in its source) and checks that GET /v1/openapi.json lists
// each with that method. The UI's static files are not API routes.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	f := startAPIFixture(t)
	resp, err := http.Get(f.base + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "api", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	route := regexp.MustCompile(`mux\.Handle(?:Func)?\("([A-Z]+) (/[^"]*)"`)
	n := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range route.FindAllStringSubmatch(string(src), -1) {
			method, path := strings.ToLower(m[1]), m[2]
			if path == "/{$}" || strings.HasPrefix(path, "/assets/") || path == "/favicon.svg" {
				continue
			}
			n++
			if doc.Paths[path][method] == nil {
				t.Errorf("%s registers %s %s, which /v1/openapi.json does not list (add it to api/openapi.extra.json)", file, m[1], path)
			}
		}
	}
	if n < 5 {
		t.Errorf("found %d routes in api, want 5 or more: is the pattern out of date?", n)
	}
}
