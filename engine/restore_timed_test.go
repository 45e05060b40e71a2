package engine

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/state"
)

// TestRestoreKeepsTimersPastJournal: an idle partition's keys follow the engine
// watermark, so a key's timers can time its runs out past events its journal still holds
// (the journal is trimmed to the partition's own watermark). A checkpoint saves the key
// as its base and journal; the restore matched the journal again but did not advance the
// matchers to where the timers had taken them, so a run the timers had ended came back,
// and the key's next event completed it: an alert the uninterrupted run never gives.
func TestRestoreKeepsTimersPastJournal(t *testing.T) {
	restoreAcrossIdle(t, authRefundRule, func(in func(int, int64, ...testEvent)) {
		// k's run starts, partition 1 goes idle, partition 2 moves the engine watermark
		// past the run's deadline (t0+5s): k's timers end it, its journal still holds a1
		in(1, 0, testEvent{ID: "a1", Card: "k", TS: t0, Kind: "auth", Amount: 10})
		in(-1, 0)
		in(2, 1, testEvent{ID: "x2", Card: "x", TS: t0 + 20_000, Kind: "login"})
	}, func(in func(int, int64, ...testEvent)) {
		// k's next event, in order for k, within the ended run's window
		in(1, 1, testEvent{ID: "r1", Card: "k", TS: t0 + 3000, Kind: "refund", Amount: 5})
	})
}

// TestOrderSectionVersions: the order section written before session 9 (newest and cut)
// reads with no timer time; the new one with it; an unreadable one as none.
func TestOrderSectionVersions(t *testing.T) {
	old := state.Section{Kind: sectionOrder, Data: binary.AppendVarint(binary.AppendVarint(nil, 50), 40)}
	if o := readOrder([]state.Section{old}); !o.ok || o.newest != 50 || o.cut != 40 || o.timedTo != math.MinInt64 {
		t.Errorf("a section without a timer time: %+v", o)
	}
	e3 := state.Section{Kind: sectionOrder, Data: binary.AppendVarint(old.Data, 70)} // e6c6de1's form
	if o := readOrder([]state.Section{e3}); !o.ok || o.timedTo != 70 || o.baseTo != math.MinInt64 || o.timed != nil {
		t.Errorf("a section with a timer time only: %+v", o)
	}
	ks := &keyState{newest: 50, timedTo: 70, base: &journalBase{cut: 40, to: 20,
		journal: []item{{ev: &event.Event{Time: 45}, timed: 20}, {ev: &event.Event{Time: 48}, timed: 70}}}}
	if o := readOrder([]state.Section{orderSection(ks)}); !o.ok || o.newest != 50 || o.cut != 40 || o.timedTo != 70 ||
		o.baseTo != 20 || !slices.Equal(o.timed, []int64{20, 70}) {
		t.Errorf("a section with one: %+v", o)
	}
	ks.timedTo = math.MinInt64
	if sec := orderSection(ks); !bytes.Equal(sec.Data, old.Data) {
		t.Errorf("a key whose timers never ran: section %x, want the old form %x", sec.Data, old.Data)
	}
	if o := readOrder([]state.Section{{Kind: sectionOrder, Data: []byte{0x80}}}); o.ok || o.timedTo != math.MinInt64 {
		t.Errorf("an unreadable section: %+v", o)
	}
}
