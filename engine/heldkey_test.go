package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/cepd/cepd/event"
)

// TestHeldKeyCollision: an event whose key is the checkpoint key of the held blob
// ("\x00cepd-held", a valid JSON string "\u0000cepd-held") is rejected (keys starting
// with a NUL byte are reserved), so it can neither take the held records' place in a
// checkpoint nor be taken for them on restore; the other keys and the held blob survive.
func TestHeldKeyCollision(t *testing.T) {
	rs := keySpaceRulesOf(t, keySpaceRules[:2]...) // device-many-cards: 3 cards on a device
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config{Shards: 2, KeySpaces: true, SpaceSources: true}
	ts := int64(1_700_000_000_000)
	rec := func(off int, card, device string) Record {
		dev, _ := json.Marshal(device) // "\u0000cepd-held": valid JSON
		return Record{Value: []byte(fmt.Sprintf(`{"id":"e%d","card":%q,"device":%s,"ts":%d,"kind":"auth","amount":120}`,
			off, card, dev, ts+int64(off)*100)), Offset: int64(off)}
	}
	const hostile = "\x00cepd-held"
	var before []Record
	for i, d := range []string{hostile, "dX"} {
		before = append(before, rec(2*i+1, "c1", d), rec(2*i+2, "c2", d))
	}
	dir := t.TempDir()
	store := openStore(t, dir)
	got := &sinkCollector{}
	e1 := startCheckpointed(t, ctx, store, cfg, rs, got, &dlqCollector{})
	dev := e1.KeySpace("device")
	if _, err := dev.Restore(ctx, 7, slog.Default()); err != nil {
		t.Fatal(err)
	}
	errs, err := dev.IngestHeld(ctx, 7, before, 4, []byte("H"))
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 2 || errs[0].Reason != event.ReasonReservedKey || errs[1].Reason != event.ReasonReservedKey {
		t.Fatalf("the records keyed %q: %+v, want both rejected (%s)", "\x00cepd-held", errs, event.ReasonReservedKey)
	}
	barrierCheckpoint(t, ctx, dev)
	e1.Close()
	store.Close()

	e2 := startCheckpointed(t, ctx, openStore(t, dir), cfg, rs, got, &dlqCollector{})
	defer e2.Close()
	dev = e2.KeySpace("device")
	if _, err := dev.Restore(ctx, 7, slog.Default()); err != nil {
		t.Fatal(err)
	}
	if h := dev.Held(7); !bytes.Equal(h, []byte("H")) {
		t.Errorf("held blob after the restore: %q, want \"H\"", h)
	}
	if _, err := dev.IngestHeld(ctx, 7, []Record{rec(5, "c3", hostile), rec(6, "c3", "dX")}, 6, nil); err != nil {
		t.Fatal(err)
	}
	if err := dev.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, a := range got.all {
		keys[a.Key] = true
	}
	if !keys["dX"] {
		t.Fatalf("no alert for the control device: the test shows nothing (%d alerts)", len(got.all))
	}
	if keys[hostile] {
		t.Errorf("an alert for the reserved key %q", hostile)
	}
}
