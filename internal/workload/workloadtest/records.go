package workloadtest

import (
	"testing"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/workload"
)

// Records generates the whole stream of cfg as engine records in written order, their
// offsets the line numbers from 1; it fails the test when cfg is invalid.
func Records(tb testing.TB, cfg workload.Config) []engine.Record {
	tb.Helper()
	lines, err := workload.Lines(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	recs := make([]engine.Record, len(lines))
	for i, l := range lines {
		recs[i] = engine.Record{Value: l, Offset: int64(i + 1)}
	}
	return recs
}
