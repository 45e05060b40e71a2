package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

// openAPIExtra documents the routes cepd serves beside the gateway (REST ingest, health,
// rule tests, this document): written by hand, merged by OpenAPIDocument.
//
//go:embed openapi.extra.json
var openAPIExtra []byte

// OpenAPIDocument returns the OpenAPI document of every route: the generated one
// (OpenAPI) with the paths and definitions of openapi.extra.json added. For a path or
// definition in both, the generated one is kept: it is the truth for gateway routes.
func OpenAPIDocument() ([]byte, error) {
	var doc, extra map[string]any
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	if err := json.Unmarshal(openAPIExtra, &extra); err != nil {
		return nil, fmt.Errorf("openapi extra: %w", err)
	}
	for _, section := range []string{"paths", "definitions"} {
		dst, _ := doc[section].(map[string]any)
		if dst == nil {
			dst = map[string]any{}
			doc[section] = dst
		}
		src, _ := extra[section].(map[string]any)
		for k, v := range src {
			if _, dup := dst[k]; !dup { // generated from the protos: that one is the truth
				dst[k] = v
			}
		}
	}
	return json.MarshalIndent(doc, "", "  ")
}
