package alerts

import "testing"

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
