package service

import (
	"context"
	"strings"
	"testing"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/store"
)

// TestValidatePatternErrorPositions: an error the NFA compiler finds in a pattern (not
// the parser's, not CEL's) reaches the API with the line and column of the step it is
// about, never 0:0.
func TestValidatePatternErrorPositions(t *testing.T) {
	schema := fraudtest.Schema(t)
	st, err := store.OpenDir(t.TempDir(), store.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewRules(st, nil, schema, rules.EnvOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, src, msg string
		line, col      int32
	}{
		{"empty loop", "id: loops\npattern:\n  - name: a\n    where: e.amount > 1.0\n  - name: g\n    times: 1+\n    steps:\n      - name: x\n        where: e.amount > 2.0\n        optional: true\n  - name: c\n    where: e.amount > 3.0\n",
			"can repeat without taking any event", 5, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := s.ValidateRule(context.Background(), &cepv1.ValidateRuleRequest{Source: tc.src})
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Errors) != 1 {
				t.Fatalf("want one error, got %v", v.Errors)
			}
			e := v.Errors[0]
			if !strings.HasPrefix(e.Message, `"g" `) || !strings.Contains(e.Message, tc.msg) || e.Line != tc.line || e.Column != tc.col {
				t.Errorf("got %d:%d: %s\nwant %d:%d: …%s…", e.Line, e.Column, e.Message, tc.line, tc.col, tc.msg)
			}
		})
	}
}
