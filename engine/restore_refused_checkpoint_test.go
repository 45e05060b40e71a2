package engine

import (
	"context"
	"testing"
	"time"
)

// TestRefusedRestoreIsNotCheckpointed: a restore refused (state of a schema the running
// one cannot read) leaves the stored checkpoint as it was, also when a checkpoint round
// runs before the source gives the partition back (the Kafka source pauses
// RejoinBackoff first, while its other claims' commit rounds checkpoint every
// partition the engine knows). Before, that round saved the refused partition as the
// engine held it, nothing: the stored offset went to -1 and the watermark to the
// minimum, so a later restore under the right schema replayed every record from the
// committed offset over keys that had seen them (events twice).
func TestRefusedRestoreIsNotCheckpointed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, e, store, err := restoreIncompatible(t, ctx)
	if err == nil {
		t.Fatal("restore under an incompatible schema was not refused")
	}
	if err := e.Checkpoint(ctx); err != nil { // a commit round of the source's other claims
		t.Fatal(err)
	}
	e.Close()
	store.Close()

	if meta := restoreAsWritten(t, ctx, dir); !meta.Found || meta.Offset != 1999 {
		t.Fatalf("restored %+v after a refused restore and a checkpoint round, want the checkpoint at offset 1999", meta)
	}
}
