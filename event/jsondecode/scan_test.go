package jsondecode

import (
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/eventtest"
)

// scanCorpus is inputs for the fast and the slow path to agree on: well-formed events,
// each of the fast path's declines, and malformed variants.
var scanCorpus = []string{
	`{"id":"1","card":"c","ts":"2026-01-02T03:04:05Z","amount":1}`,
	`{ "id" : "1" , "card":"c","ts":1700000000000,"amount":1.5,"n":3,"ok":true,"note":null }`,
	`{"id":"1","card":"c","ts":1,"amount":1,"note":"a\"b"}`,
	`{"id":"1","card":"c","ts":1,"amount":1,"extra":{"x":[1,2]}}`,
	`{"id":"1","card":"c","ts":1,"amount":1,"a\u0062":2}`,
	`{"id":"1","card":"c","ts":1,"amount":1,"n":1abc}`,
	`{"id":"1","card":"c","ts":1,"amount":1,"ok":tru}`,
	`{"id":"1","card":"c","ts":1,"amount":1,"ok":nul}`,
	`{"id":"1","card":"c","ts":1,"amount":1,"n":+1}`,
	`{"id":"1","card":"c","ts":1,"amount":1,}`,
	`{"id":"1","card":"c","ts":1,"amount":1]`,
	`{"id":"1","card":"c","ts":1,"amount":1 "n":2}`,
	`{"id":"1","card":"c","ts":1,"amount":-}`,
	`{"id":"1","card":"c","ts":1,"amount":1,"id":"2"}`,
	`{"id":"1","card":"c","ts":1,"amount":"x"}`,
	`{"id":"1","card":"c""ts":1,"amount":1}`,
	`{"id":"1","card":"c","ts":1,"amount":1,"n":[1]}`,
	`{"id":"1","card":"c","ts":1,"amount":1,"note":"\u00e9\n"}`,
	`{"id":"1","card":"c","ts":"noon","amount":1}`,
	`{"id":1,"card":"c","ts":1,"amount":1}`,
	`{}`, `{ }`, `{"`, `{"id"`, `{"id":`, `{"id":"1"`, `{"id":"1",`, `{,}`, `{:}`,
	`{"id":"1","card":"c","ts":1,"amount":1,"note":"abcdefgh"}`,  // a string held in its slab word (8 bytes)
	`{"id":"1","card":"c","ts":1,"amount":1,"note":"abcdefghi"}`, // one after the words (9)
}

// decodeBoth decodes in by the fast and the slow path and reports how they differ. The
// fast decoder has first decoded train (when not empty), so that it predicts the field of
// each member from train's order (Decoder.predict).
func decodeBoth(s *event.Schema, train string, in []byte) string {
	fast, slow := NewDecoder(s), NewDecoder(s)
	slow.slow = true
	if train != "" {
		var ev event.Event
		_ = fast.Decode([]byte(train), &ev)
	}
	return decodeWith(fast, slow, in)
}

// decodeWith decodes in with the decoders fast and slow (whose slow field is set) and
// reports how they differ.
func decodeWith(fast, slow *Decoder, in []byte) string {
	return decodePair(fast, slow, in, in)
}

// TestScanFlatAgrees: the fast path decodes every input as the slow path does (the same
// event, the same error, the same unknown fields), on the corpus, on every prefix of it
// (a line cut inside a string, where the fast path's 8-byte reads meet the end of the
// line) and on random edits of it. An edit puts in a whole character, so that those
// beyond ASCII (é, €) make valid UTF-8 the fast path reads rather than bytes
// checkObject refuses. TestScanFlatTaken checks that the fast path is taken at all.
func TestScanFlatAgrees(t *testing.T) {
	s := eventtest.Schema(t, decSchema)
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := strings.Split(`{ } [ ] : , " \ 0 1 2 3 4 5 6 7 8 9 . - + e E t r u f a l s n é €`, " ")
	alphabet = append(alphabet, " ", "\t", "\n")
	for _, in := range scanCorpus {
		if d := decodeBoth(s, "", []byte(in)); d != "" {
			t.Fatalf("%s: %s", in, d)
		}
		for n := range len(in) {
			for _, train := range []string{"", in} {
				if d := decodeBoth(s, train, []byte(in[:n])); d != "" {
					t.Fatalf("%s (trained on %s): %s", in[:n], train, d)
				}
			}
		}
		for k := range 600 {
			b := []byte(in)
			for range 1 + r.IntN(3) {
				if len(b) == 0 {
					break
				}
				i := r.IntN(len(b))
				c := alphabet[r.IntN(len(alphabet))]
				switch r.IntN(3) {
				case 0:
					b = slices.Concat(b[:i], []byte(c), b[i+1:])
				case 1:
					b = append(b[:i], b[i+1:]...)
				default:
					b = slices.Concat(b[:i], []byte(c), b[i:])
				}
			}
			train := ""
			if k%2 == 1 { // a decoder that predicts in's own members, before the edits
				train = in
			}
			if d := decodeBoth(s, train, b); d != "" {
				t.Fatalf("%s (trained on %s): %s", b, train, d)
			}
		}
	}
}

// TestScanFlatTaken: flat events take the fast path; nested values and escapes do not.
func TestScanFlatTaken(t *testing.T) {
	s := eventtest.Schema(t, decSchema)
	for _, c := range []struct {
		in   string
		fast bool
	}{
		{scanCorpus[0], true},
		{scanCorpus[1], true},
		{`{}`, true},
		{scanCorpus[2], false},
		{scanCorpus[3], false},
		{scanCorpus[4], false},
		{`{"a":1,}`, false},
		{`{"id":"1","card":"c","ts":1,"amount":1,"note":"né à Paris, 1€ ¢"}`, true}, // bytes ≥ 0x80
		{`{"id":"1","card":"c","ts":1,"amount":"x"}`, false},                        // a value refused
	} {
		if ok := fastTaken(s, c.in); ok != c.fast {
			t.Errorf("%s: fast path %v, want %v", c.in, ok, c.fast)
		}
	}
}

func FuzzScanFlatAgrees(f *testing.F) {
	s := eventtest.Schema(f, decSchema)
	for _, in := range scanCorpus {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if d := decodeBoth(s, "", in); d != "" {
			t.Fatalf("%q: %s", in, d)
		}
		for _, train := range scanCorpus[:2] { // decoders that predict the corpus's order
			if d := decodeBoth(s, train, in); d != "" {
				t.Fatalf("%q (trained on %s): %s", in, train, d)
			}
		}
	})
}

// TestFieldOrderPredicted: a decoder that decodes event after event, whose members change
// order, repeat, go missing or are unknown (some unknown names as long as known ones),
// decodes each as a new decoder's slow path does. The fast path tries the field the
// member at the same position named in the previous event first (Decoder.field); runs of
// events in one order make it hit, and changes of order make it miss.
func TestFieldOrderPredicted(t *testing.T) {
	s, err := event.ParseSchema([]byte(decSchema))
	if err != nil {
		t.Fatal(err)
	}
	pool := []string{`"id":"1"`, `"card":"c"`, `"ts":1700000000000`, `"amount":1.5`, `"n":3`,
		`"ok":true`, `"note":"x"`, `"xx":1`, `"nn":"q"`, `"idd":"z"`, `"n":"3"`, `"amount":null`}
	r := rand.New(rand.NewPCG(5, 6))
	fast := NewDecoder(s)
	var order []string
	for e := range 20000 {
		if e%8 == 0 { // a new order, kept for a few events
			order = order[:0]
			for _, p := range r.Perm(len(pool)) {
				if p < 4 || r.IntN(2) == 0 {
					order = append(order, pool[p])
				}
			}
		}
		members := append([]string(nil), order...)
		if r.IntN(4) == 0 && len(members) > 1 { // this event alone differs
			i, j := r.IntN(len(members)), r.IntN(len(members))
			members[i], members[j] = members[j], members[i]
			if r.IntN(2) == 0 {
				members = append(members, members[r.IntN(len(members))])
			}
		}
		in := []byte("{" + strings.Join(members, ",") + "}")
		slow := NewDecoder(s)
		slow.slow = true
		if d := decodeWith(fast, slow, in); d != "" {
			t.Fatalf("event %d %s: %s", e, in, d)
		}
	}
}

// fastTaken reports whether the fast path decodes in (a JSON object) by itself, both
// by a new decoder and by one that has decoded in before (and so predicts its keys), and
// false when the two differ.
func fastTaken(s *event.Schema, in string) bool {
	d := NewDecoder(s)
	data := []byte(strings.TrimSpace(in))
	d.b.Reset(len(s.Fields))
	taken := d.flat(data)
	var ev event.Event
	_ = d.Decode(data, &ev)
	d.b.Reset(len(s.Fields))
	return d.flat(data) && taken
}

// TestPlainStringMatchesBytewise: plainString, 8 bytes at a time, finds what a byte-by-byte
// search finds (the first quote, a backslash before it, or no end) for a quote or a
// backslash at every offset of strings of every length, among ASCII and other bytes.
func TestPlainStringMatchesBytewise(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	fill := []byte("a0 ~\x00\x7f\x80\x81\xa2\xdc\xff\x21\x23\x5b\x5d\x01")
	for n := range 40 {
		for range 200 {
			b := make([]byte, n)
			for k := range b {
				b[k] = fill[r.IntN(len(fill))]
			}
			for _, c := range []byte{'"', '\\'} {
				if n > 0 && r.IntN(4) != 0 {
					b[r.IntN(n)] = c
				}
			}
			for i := range n + 1 {
				ge, gok := plainString(b, i)
				we, wok := plainStringBytewise(b, i)
				if gok != wok || (gok && ge != we) {
					t.Fatalf("%q from %d: %d %v, want %d %v", b, i, ge, gok, we, wok)
				}
			}
		}
	}
}

// slab returns the bytes of ev's values slab (unexported: read by reflection), so that
// the paths are held to the same slab byte for byte, not only to equal values (a short
// string's word could hold stray bytes past the string and still read back equal).
func slab(ev *event.Event) []byte {
	v := reflect.ValueOf(ev).Elem()
	p := (*byte)(v.FieldByName("data").UnsafePointer())
	if p == nil {
		return nil
	}
	return unsafe.Slice(p, v.FieldByName("size").Uint()&^(1<<31)) // the top bit: the slab is boxed (event/box.go)
}

// TestScanFlatAgreesBounded: under small bounds on strings (below, at and above the 8
// bytes a slab word holds) the fast path refuses and accepts the strings the slow path
// does, with the same errors, for strings of every length around them, at the end of
// the object and before other members, by new and by trained decoders.
func TestScanFlatAgreesBounded(t *testing.T) {
	s := eventtest.Schema(t, decSchema)
	for _, limit := range []int{1, 3, 7, 8, 9, 12} {
		b := event.Bounds{MaxString: limit}
		for n := range 14 {
			x := strings.Repeat("x", n)
			for _, in := range []string{
				`{"id":"1","card":"c","ts":1,"amount":1,"note":"` + x + `"}`,
				`{"note":"` + x + `","id":"1","card":"c","ts":1,"amount":1}`,
			} {
				for _, trained := range []bool{false, true} {
					fast, slow := NewDecoder(s), NewDecoder(s)
					fast.SetBounds(b)
					slow.SetBounds(b)
					slow.slow = true
					if trained {
						var ev event.Event
						_ = fast.Decode([]byte(in), &ev)
					}
					if d := decodeWith(fast, slow, []byte(in)); d != "" {
						t.Fatalf("limit %d, %s (trained %v): %s", limit, in, trained, d)
					}
				}
			}
		}
	}
}

// TestShortWordIsPlainString: shortWord reads a plain string of up to 8 bytes as
// plainString finds it, its word the string's bytes and zeros after them, and declines
// every other string: for a quote or a backslash at each of the 9 positions after a
// prefix of ASCII and other bytes (and none at all).
func TestShortWordIsPlainString(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for range 3000 {
		var s [9]byte
		for k := range s {
			s[k] = byte('a' + r.IntN(26))
			if r.IntN(4) == 0 {
				s[k] = byte(0x80 + r.IntN(128))
			}
		}
		if p := r.IntN(10); p < 9 {
			s[p] = `"\`[r.IntN(2)]
		}
		w, n, ok := shortWord(&s)
		e, plain := plainStringBytewise(s[:], 0)
		want := plain && e-1 <= 8
		if ok != want {
			t.Fatalf("%q: shortWord %v, want %v", s[:], ok, want)
		}
		if !ok {
			continue
		}
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], w)
		if n != e-1 || string(b[:n]) != string(s[:n]) || b != [8]byte(append(s[:n:n], make([]byte, 8-n)...)) {
			t.Fatalf("%q: shortWord word %q (%d bytes), want %q", s[:], b[:], n, s[:e-1])
		}
	}
}
