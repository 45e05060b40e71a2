package engine

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestSubmitCollectKeySpaces: with Config.KeySpaces an event's completions hold the
// alerts of every key space it completes, beside the card key space's: here one event
// completes a card rule and a device rule at once, and a malformed record before it in
// the same call (rejected, so absent from the other key spaces' input) must not shift
// which event the device alert is given to.
func TestSubmitCollectKeySpaces(t *testing.T) {
	rs := keySpaceRulesOf(t, `
id: card-big
pattern:
  - name: big
    where: e.kind == 'auth' && e.amount > 500.0
`, `
id: device-three-cards
key: device
within: 30s
skip: past_last_event
decision: {outcome: review, score: 30}
pattern:
  - name: cards
    where: e.kind == 'auth' && !(e.card in match.cards.map(x, x.card))
    times: 3
`)
	eng, ctx, stop := startEngine(t, Config{Shards: 2, KeySpaces: true}, rs, &sinkCollector{}, &dlqCollector{})
	defer stop()
	const t0 = 1_700_000_000_000
	ev := func(id, card string, ts int64, amount float64) Record {
		b, _ := json.Marshal(map[string]any{"id": id, "card": card, "device": "d1", "ts": t0 + ts, "kind": "auth", "amount": amount})
		return Record{Value: b}
	}
	recs := []Record{
		ev("e1", "c1", 0, 10),
		ev("e2", "c2", 1000, 10),
		{Value: []byte(`{"id": "bad"`)},
		ev("e3", "c3", 2000, 900), // the third card on d1, and a big one on c3
		ev("e4", "c4", 3000, 10),
	}
	for i := range recs {
		recs[i].Offset = int64(i)
	}
	wait, comp, errs, err := eng.SubmitCollect(ctx, 0, recs)
	if err != nil || len(errs) != 1 || errs[0].Index != 2 {
		t.Fatal(err, errs)
	}
	if _, err := wait(ctx); err != nil {
		t.Fatal(err)
	}
	got := comp()
	if len(got) != len(recs) {
		t.Fatalf("%d completions for %d records", len(got), len(recs))
	}
	for i, cs := range got {
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.Alert.RuleID+"/"+c.Alert.Key)
		}
		want := []string(nil)
		if i == 3 {
			want = []string{"card-big/c3", "device-three-cards/d1"}
		}
		if !slices.Equal(ids, want) {
			t.Errorf("record %d completed %v, want %v", i, ids, want)
		}
		if i == 3 && len(cs) == 2 && (cs[1].Decision == nil || cs[1].Decision.Score != 30) {
			t.Errorf("the device alert's decision settings %+v, want its rule's", cs[1].Decision)
		}
	}
}
