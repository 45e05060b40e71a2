package alerts

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestIDDeterministicAndSensitive(t *testing.T) {
	base := ComputeID("r", "1", KindMatch, "card-1", []string{"a", "b"})
	if base != ComputeID("r", "1", KindMatch, "card-1", []string{"a", "b"}) {
		t.Fatal("id not deterministic")
	}
	for name, other := range map[string]string{
		"version": ComputeID("r", "2", KindMatch, "card-1", []string{"a", "b"}),
		"kind":    ComputeID("r", "1", KindTimeout, "card-1", []string{"a", "b"}),
		"key":     ComputeID("r", "1", KindMatch, "card-2", []string{"a", "b"}),
		"events":  ComputeID("r", "1", KindMatch, "card-1", []string{"a", "c"}),
		"split":   ComputeID("r", "1", KindMatch, "card-1", []string{"ab"}),
		"rule":    ComputeID("r1", "1", KindMatch, "card-1", []string{"a", "b"}),
	} {
		if other == base {
			t.Errorf("changing %s did not change the id", name)
		}
	}
}

func TestValuesJSONRoundTrip(t *testing.T) {
	vs := Values{{Name: "total", Value: 12.5}, {Name: "n", Value: float64(3)}, {Name: "bad", Error: "division by zero"}}
	data, err := json.Marshal(vs)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"total":12.5,"n":3,"bad":null,"bad_error":"division by zero"}`
	if string(data) != want {
		t.Fatalf("got %s want %s", data, want)
	}
	var back Values
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 3 || back[2].Error != "division by zero" || back[0].Value != 12.5 {
		t.Fatalf("round trip: %+v", back)
	}
}

func TestAlertJSONStable(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := &Alert{Kind: KindMatch, RuleID: "r", RuleVersion: "1", Mode: "active", Severity: "high", Key: "k",
		Steps:          []Step{{Step: "a", Events: []Event{{ID: "e1", Time: ts, Fields: map[string]any{"z": 1, "a": "x"}}}}},
		FirstEventTime: ts, LastEventTime: ts}
	a.SetID()
	d1, _ := json.Marshal(a)
	d2, _ := json.Marshal(a)
	if string(d1) != string(d2) {
		t.Fatal("marshal not stable")
	}
	const want = `{"id":"` + "%s" + `","kind":"match","rule_id":"r","rule_version":"1","mode":"active","severity":"high","key":"k","steps":[{"step":"a","events":[{"id":"e1","time":"2026-01-02T03:04:05Z","fields":{"a":"x","z":1}}]}],"emit":{},"first_event_time":"2026-01-02T03:04:05Z","last_event_time":"2026-01-02T03:04:05Z"}`
	if got := string(d1); got != strings.ReplaceAll(want, "%s", a.ID) {
		t.Fatalf("got\n%s", got)
	}
}

// TestIDCoversContent: events that reuse an id with other content give another alert id;
// the same content (built afresh, as a replay builds it) gives the same id.
func TestIDCoversContent(t *testing.T) {
	mk := func(amount float64, ts int64) *Alert {
		a := &Alert{Kind: KindMatch, RuleID: "r", RuleVersion: "v", Key: "k", Steps: []Step{{Step: "a", Events: []Event{
			{ID: "e1", Time: time.UnixMilli(ts), Fields: map[string]any{"amount": amount, "type": "auth"}}}}}}
		a.SetID()
		return a
	}
	base := mk(1, 1000)
	if mk(1, 1000).ID != base.ID {
		t.Fatal("the same content gave another id")
	}
	if mk(2, 1000).ID == base.ID {
		t.Error("a reused event id with another amount gave the same alert id")
	}
	if mk(1, 2000).ID == base.ID {
		t.Error("a reused event id at another time gave the same alert id")
	}
}
