package ruletest

import (
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/internal/fraudtest"
)

func loadFraudSchema(t *testing.T) *event.Schema {
	t.Helper()
	s := fraudtest.Schema(t)
	return s
}
