package ruletest

import (
	"path/filepath"
	"testing"

	"github.com/cepd/cepd/event"
)

func loadFraudSchema(t *testing.T) *event.Schema {
	t.Helper()
	s, err := event.LoadSchema(filepath.Join(fraudDir, "schema.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
