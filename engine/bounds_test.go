package engine

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cepd/cepd/event"
)

// TestHostileTimesMoveNoWatermark: events whose time wraps, lies beyond the configured
// skew ahead of the (test's) wall clock or before the floor are rejected one by one, and
// the events after them are matched as if they had never been sent: no watermark moved,
// nothing became late.
func TestHostileTimesMoveNoWatermark(t *testing.T) {
	rs := testRuleSet(t)
	good := records(genEvents(5, 5, 400))
	now := time.UnixMilli(1_700_000_000_000 + 3600_000)
	bounds := event.Bounds{MaxAhead: time.Hour, Floor: time.UnixMilli(1_600_000_000_000), Now: func() time.Time { return now }}
	bad := []Record{
		{Value: []byte(`{"id":"t8","card":"c1","ts":10000000000000000,"kind":"auth","amount":1}`)},
		{Value: []byte(`{"id":"t9","card":"c2","ts":9223372036854775807,"kind":"auth","amount":1}`)},
		{Value: []byte(fmt.Sprintf(`{"id":"t10","card":"c3","ts":%d,"kind":"auth","amount":1}`, now.Add(2*time.Hour).UnixMilli()))},
		{Value: []byte(`{"id":"t11","card":"c3","ts":5,"kind":"auth","amount":1}`)},
		{Value: []byte("{\"id\":\"t12\",\"card\":\"c\xff\",\"ts\":1700000000001,\"kind\":\"auth\",\"amount\":1}")},
	}
	mixed := append(append(slices.Clone(good[:100]), bad...), good[100:]...)
	cfg := Config{Shards: 2, Bounds: bounds}
	want, _, _ := run(t, rs, cfg, good, 50)
	if len(want) == 0 {
		t.Fatal("no alerts: the test data is too weak")
	}
	got, dlq, st := run(t, rs, cfg, mixed, 50)
	if st.Late != 0 {
		t.Errorf("%d events late after the hostile times", st.Late)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("hostile times changed the alerts: %d, want %d", len(got), len(want))
	}
	reasons := map[string]int{}
	for _, d := range dlq.all {
		reasons[d.Reason]++
	}
	wantReasons := map[string]int{event.ReasonTimeRange: 2, event.ReasonTimeAhead: 1, event.ReasonTimeFloor: 1, event.ReasonInvalidUTF8: 1}
	if fmt.Sprint(reasons) != fmt.Sprint(wantReasons) {
		t.Fatalf("dead letters %v, want %v", reasons, wantReasons)
	}
}
