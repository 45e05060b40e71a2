package alerts

import (
	"os"
	"strings"
	"testing"
)

func TestRingSubscribeAfter(t *testing.T) {
	for _, tt := range []struct {
		last  string
		found bool
		want  string
	}{
		{"b", true, "cd"},
		{"d", true, ""},
		{"a", false, ""}, // no longer held: nothing to resume from
		{"", false, ""},
	} {
		r := NewRing(3)
		for _, id := range []string{"a", "b", "c", "d"} { // a is evicted
			r.Alert(&Alert{ID: id})
		}
		backlog, found, ch, stop := r.SubscribeAfter(tt.last, 4)
		got := ""
		for _, a := range backlog {
			got += a.ID
		}
		if found != tt.found || got != tt.want {
			t.Errorf("after %q: %q found %v, want %q found %v", tt.last, got, found, tt.want, tt.found)
		}
		r.Alert(&Alert{ID: "live"})
		if a := <-ch; a.ID != "live" {
			t.Errorf("after %q: live alert %q", tt.last, a.ID)
		}
		stop()
	}
}

func TestReadTailAndExcept(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/alerts.jsonl"
	if list, err := ReadTail(path, 1<<20); err != nil || len(list) != 0 {
		t.Fatalf("missing file: %v %v", list, err)
	}
	content := `{"id":"a1","kind":"match"}` + "\n" + `{"id":"a2","kind":"match"}` + "\n" + `{"id":"a3","ki` // a crash cut a3
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		max  int64
		want string
	}{
		{1 << 20, "a1 a2"},
		{int64(len(content) - 5), "a2"}, // the window cuts a1's line: skipped
	} {
		list, err := ReadTail(path, tt.max)
		if err != nil {
			t.Fatal(err)
		}
		ids := IDs(list)
		got := []string{}
		for _, id := range []string{"a1", "a2", "a3"} {
			if ids[id] {
				got = append(got, id)
			}
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("window %d: %v, want %s", tt.max, got, tt.want)
		}
	}
	ring := NewRing(10)
	sink := Except(map[string]bool{"a2": true}, ring)
	for _, id := range []string{"a1", "a2", "a4"} {
		sink.Alert(&Alert{ID: id})
	}
	if got := ring.Query(Filter{}); len(got) != 2 || got[0].ID != "a4" || got[1].ID != "a1" {
		t.Errorf("written %v", got)
	}
}
