package kafkasink

import (
	"context"
	"testing"
	"time"

	"github.com/cepd/cepd/internal/devkafka"
	"github.com/cepd/cepd/internal/kafkatest"
)

func TestFieldKey(t *testing.T) {
	k := FieldKey("card")
	for _, c := range []struct{ line, want string }{
		{`{"card":"c-1","x":1}`, "c-1"},
		{`{"x":1,"card":"a\"b"}`, `a"b`},
		{`{"card":42}`, "42"},
		{`{"card":true}`, "true"},
		{`{"other":"x"}`, ""},
		{`not json`, ""},
	} {
		if got := string(k([]byte(c.line))); got != c.want {
			t.Errorf("FieldKey(%s) = %q, want %q", c.line, got, c.want)
		}
	}
}

// TestLineWriter: lines split across writes, CRLF endings and blank lines; values are the
// lines' bytes, keys the key field, and the rate is kept.
func TestLineWriter(t *testing.T) {
	kc := devkafka.ForTest(t, devkafka.Options{Partitions: 2})
	p, err := New(Config{Brokers: []string{kc.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w := &LineWriter{P: p, Topic: "ev", Key: FieldKey("k"), Rate: 100}
	start := time.Now()
	chunks := []string{`{"k":"a","v":1}` + "\n" + `{"k":"b",`, `"v":2}` + "\r\n\n   \n", `{"k":"a","v":3}`}
	for _, c := range chunks {
		if _, err := w.Write([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 15*time.Millisecond {
		t.Errorf("3 lines at 100/s took %v", d)
	}
	got := map[string]string{}
	for _, m := range kafkatest.ReadTopic(t, kc.Addr(), "ev") {
		got[string(m.Value)] = string(m.Key)
	}
	want := map[string]string{`{"k":"a","v":1}`: "a", `{"k":"b","v":2}`: "b", `{"k":"a","v":3}`: "a"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for v, k := range want {
		if got[v] != k {
			t.Errorf("line %s: key %q, want %q (all: %v)", v, got[v], k, got)
		}
	}
	if w.Sent() != 3 {
		t.Errorf("sent %d", w.Sent())
	}
}
