package api

import (
	"encoding/json"
	"testing"
)

// TestOpenAPIDocument checks that the merged document keeps every generated path and
// adds the hand-written ones.
func TestOpenAPIDocument(t *testing.T) {
	b, err := OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	var doc, gen struct {
		Paths map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(OpenAPI, &gen); err != nil {
		t.Fatal(err)
	}
	for p := range gen.Paths {
		if doc.Paths[p] == nil {
			t.Errorf("generated path %s lost", p)
		}
	}
	for _, p := range []string{"/v1/events", "/healthz", "/v1/rules:test", "/v1/stats", "/v1/openapi.json"} {
		if doc.Paths[p] == nil {
			t.Errorf("path %s missing", p)
		}
	}
}
