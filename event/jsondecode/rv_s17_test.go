package jsondecode

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cepd/cepd/event"
)

// Review of s17-event (shortWord's 9-byte array, predicted's masked order index, the
// k0 1 / m0 0 code of a field without a table key): differential tests of the fast
// path against the slow path on inputs the other tests do not build.

// decodePair decodes inF with fast and inS with slow and reports how they differ (as
// decodeWith does for one input).
func decodePair(fast, slow *Decoder, inF, inS []byte) string {
	uf, us := event.NewUnknownFields(), event.NewUnknownFields()
	fast.SetUnknown(uf)
	slow.SetUnknown(us)
	var ef, es event.Event
	errF, errS := fast.Decode(inF, &ef), slow.Decode(inS, &es)
	switch {
	case fmt.Sprint(errF) != fmt.Sprint(errS):
		return fmt.Sprintf("errors: fast %v, slow %v", errF, errS)
	case errF != nil:
		return ""
	case ef.Key != es.Key || ef.ID() != es.ID() || ef.Time != es.Time || !slices.EqualFunc(ef.Values(), es.Values(), event.Value.Equal):
		return fmt.Sprintf("events: fast %v %v, slow %v %v", ef.Key, ef.Values(), es.Key, es.Values())
	case !bytes.Equal(slab(&ef), slab(&es)):
		return fmt.Sprintf("slabs: fast %x, slow %x", slab(&ef), slab(&es))
	case fmt.Sprint(uf.Snapshot()) != fmt.Sprint(us.Snapshot()):
		return fmt.Sprintf("unknown fields: fast %v, slow %v", uf.Snapshot(), us.Snapshot())
	}
	return ""
}

// rvShortStrings are string tokens of 0 to 10 content bytes, with a quote, an escaped
// quote, a backslash escape, a raw backslash or a 2- and 3-byte character at every
// position, and unterminated ones.
func rvShortStrings() []string {
	var v []string
	for n := range 11 {
		x := strings.Repeat("y", n)
		v = append(v, `"`+x+`"`, `"`+x)
		for p := 0; p <= n; p++ {
			for _, sp := range []string{`"`, `\"`, `\\`, `\`, `\u00e9`, "é", "€", "\x00", "\x7f"} {
				v = append(v, `"`+x[:p]+sp+x[p:]+`"`)
			}
		}
	}
	return v
}

// TestShortStringsInSubslicesFastIsSlow: a string of 0 to 10 bytes as the last member
// (its value the last bytes before the closing brace, where shortWord's 9 bytes meet the
// end of the input), or the one before, of a string field, an any field and the key
// field, in an input that is a subslice of a larger buffer (as a REST body or a Kafka
// value is) whose bytes past the input are quotes, backslashes, braces or blanks: the
// fast path decodes it as the slow path decodes an exact copy, and as the fast path
// decodes an exact copy.
func TestShortStringsInSubslicesFastIsSlow(t *testing.T) {
	s := wideSchema(t)
	trained, fresh, onCopy, slow := NewDecoder(s), NewDecoder(s), NewDecoder(s), NewDecoder(s)
	slow.slow = true // the slow path keeps no predictions: one decoder for every input
	head := `"id":"1","ts":1,"amount":1,"req":1`
	trailers := []string{"", `""""""""""`, `\\\\\\\\\\`, `"}"}"}"}"}`}
	for _, v := range rvShortStrings() {
		for _, key := range []string{"note", "x", "card"} {
			var lines []string
			m := `"` + key + `":` + v
			if key == "card" {
				lines = append(lines, "{"+`"id":"1","ts":1,"amount":1,"req":1,`+m+"}", "{"+m+","+`"id":"1","ts":1,"amount":1,"req":1`+"}")
			} else {
				lines = append(lines, "{"+head+`,"card":"c",`+m+"}", "{"+head+","+m+`,"card":"c"}`, "{"+head+`,"card":"c",`+m+" }\n")
			}
			for _, line := range lines {
				for _, tr := range trailers {
					buf := []byte(line + tr)
					in := buf[:len(line):len(buf)]
					exact := []byte(line)
					fresh.order = NewDecoder(s).order // no predictions
					for k, fast := range []*Decoder{fresh, trained} {
						if d := decodePair(fast, slow, in, exact); d != "" {
							t.Fatalf("decoder %d, %q (then %q): %s", k, line, tr, d)
						}
						if k == 0 {
							continue
						}
						if d := decodePair(fast, onCopy, in, exact); d != "" {
							t.Fatalf("decoder %d, %q (then %q) against the fast path on a copy: %s", k, line, tr, d)
						}
					}
				}
			}
		}
	}
}

// TestManyMembersFastIsSlow: events of 60 to 80 members (every field of the wide schema,
// some twice, unknown ones among them), in orders that change from event to event, so
// that members past maxMembers meet a long-lived decoder's predictions; the fast path
// takes an event of up to maxMembers members and decodes each as the slow path does.
func TestManyMembersFastIsSlow(t *testing.T) {
	s := wideSchema(t)
	var pool []string
	for i, f := range s.Fields {
		switch f.Type {
		case event.TypeString, event.TypeAny:
			pool = append(pool, fmt.Sprintf(`"%s":"v%d"`, f.Name, i), fmt.Sprintf(`"%s":"long value %d"`, f.Name, i))
		case event.TypeTimestamp:
			pool = append(pool, fmt.Sprintf(`"%s":"2024-01-01T00:00:%02d.000Z"`, f.Name, i%60))
		case event.TypeBool:
			pool = append(pool, fmt.Sprintf(`"%s":true`, f.Name))
		case event.TypeDouble:
			pool = append(pool, fmt.Sprintf(`"%s":%d.5`, f.Name, i))
		default:
			pool = append(pool, fmt.Sprintf(`"%s":%d`, f.Name, i))
		}
	}
	for k := range 10 {
		pool = append(pool, fmt.Sprintf(`"unk%d":%d`, k, k))
	}
	r := rand.New(rand.NewPCG(41, 42))
	d := NewDecoder(s)
	for e := range 3000 {
		n := 60 + r.IntN(21)
		if e%3 == 0 {
			n = 63 + r.IntN(3) // 63, 64, 65 members
		}
		ms := make([]string, 0, n)
		for _, p := range r.Perm(len(pool)) {
			if len(ms) < n {
				ms = append(ms, pool[p])
			}
		}
		for len(ms) < n {
			ms = append(ms, pool[r.IntN(len(pool))])
		}
		in := "{" + strings.Join(ms, ",") + "}"
		checkSequence(t, s, []*Decoder{d}, in)
		taken := fastTaken(s, in)
		if n > maxMembers && taken {
			t.Fatalf("%d members: the fast path took %s", n, in)
		}
	}
	// exactly maxMembers members, all known and well-formed: taken
	in := "{" + strings.Join(pool[:maxMembers], ",") + "}"
	checkSequence(t, s, []*Decoder{d}, in)
	if !fastTaken(s, in) {
		t.Fatalf("%d members: the fast path declines %s", maxMembers, in)
	}
	if in := "{" + strings.Join(pool[:maxMembers+1], ",") + "}"; fastTaken(s, in) {
		t.Fatalf("%d members: the fast path takes %s", maxMembers+1, in)
	}
}

// TestInterleavedStringsFastIsSlow: long and short strings of several string fields, in
// every order of the members and repeated (the last one counts: a long string's bytes
// are left behind in the builder's buffer, and long strings lie there out of field
// order), decode as the slow path does.
func TestInterleavedStringsFastIsSlow(t *testing.T) {
	s := wideSchema(t)
	d := NewDecoder(s)
	vals := []string{`"a"`, `""`, `"abcdefgh"`, `"abcdefghi"`, `"a long string value"`, `null`, `"é€x"`, `"ééééé"`}
	keys := []string{"note", "abcdefghijklm", "x", "card"}
	r := rand.New(rand.NewPCG(43, 44))
	for range 20000 {
		ms := []string{`"id":"1"`, `"ts":1`, `"amount":1`, `"req":1`, `"card":"c"`}
		for range 1 + r.IntN(8) {
			ms = append(ms, `"`+keys[r.IntN(len(keys))]+`":`+vals[r.IntN(len(vals))])
		}
		r.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
		checkSequence(t, s, []*Decoder{d}, "{"+strings.Join(ms, ",")+"}")
	}
}

// TestRandomEventsFastIsSlow: random events of the wide schema (its names, the near
// names of reviewKeys and unknown ones; the values of reviewValues and short strings
// with specials at every position; 0 to 70 members, repeated ones among them), in
// subslices of buffers with quotes and backslashes after them, decoded in turn by one
// long-lived decoder, decode as the slow path decodes each.
func TestRandomEventsFastIsSlow(t *testing.T) {
	s := wideSchema(t)
	keys := slices.Clone(reviewKeys)
	for _, f := range s.Fields {
		for range 3 {
			keys = append(keys, `"`+f.Name+`"`)
		}
	}
	keys = append(keys, `"unknown"`, `"u"`, `"zzzzzzzzzzzzzzzzzzzzzz"`)
	vals := append(slices.Clone(reviewValues), rvShortStrings()...)
	r := rand.New(rand.NewPCG(45, 46))
	d := NewDecoder(s)
	base := []string{`"id":"1"`, `"card":"c"`, `"ts":1`, `"amount":1`, `"req":1`}
	n := 30000
	if testing.Short() {
		n = 3000
	}
	for range n {
		ms := slices.Clone(base)
		raw := r.IntN(2) == 0
		for range r.IntN(66) {
			if raw && r.IntN(4) == 0 {
				ms = append(ms, keys[r.IntN(len(keys))]+":"+vals[r.IntN(len(vals))])
			} else {
				ms = append(ms, rvTypedMember(r, s))
			}
		}
		if r.IntN(2) == 0 {
			r.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
		}
		line := "{" + strings.Join(ms, ",") + "}"
		if r.IntN(8) == 0 {
			line = line[:r.IntN(len(line)+1)]
		}
		buf := []byte(line + `"\"\"\"\"\"\`)
		slow := NewDecoder(s)
		slow.slow = true
		if diff := decodePair(d, slow, buf[:len(line)], []byte(line)); diff != "" {
			t.Fatalf("%q: %s", line, diff)
		}
	}
}

// rvTypedMember returns a member of a random field of s with a value of its type, a
// string of 0 to 12 bytes (ASCII, 2- and 3-byte characters, now and then an escape).
func rvTypedMember(r *rand.Rand, s *event.Schema) string {
	f := s.Fields[r.IntN(len(s.Fields))]
	var v string
	switch f.Type {
	case event.TypeString, event.TypeAny:
		var b strings.Builder
		for range r.IntN(13) {
			b.WriteString([]string{"a", "b", "é", "€", " ", "\x7f", "0"}[r.IntN(7)])
		}
		if r.IntN(10) == 0 {
			b.WriteString(`\n`)
		}
		v = `"` + b.String() + `"`
	case event.TypeTimestamp:
		v = fmt.Sprintf(`"2024-01-0%dT00:00:00.%03dZ"`, 1+r.IntN(3), r.IntN(1000))
	case event.TypeBool:
		v = []string{"true", "false", "null"}[r.IntN(3)]
	case event.TypeDouble:
		v = fmt.Sprintf("%d.%d", r.IntN(1000), r.IntN(100))
	default:
		v = fmt.Sprint(r.IntN(100000) - 500)
	}
	return `"` + f.Name + `":` + v
}

// TestShortStringsBoundedFastIsSlow: the strings of rvShortStrings as the last member,
// under a bound on strings of 1 to 10 bytes (shortWord's n against Decoder.maxStr),
// decode by the fast path as by the slow path.
func TestShortStringsBoundedFastIsSlow(t *testing.T) {
	s := wideSchema(t)
	for max := 1; max <= 10; max++ {
		fast := NewDecoder(s)
		fast.SetBounds(event.Bounds{MaxString: max})
		for _, v := range rvShortStrings() {
			for _, key := range []string{"note", "x"} {
				line := `{"id":"1","ts":1,"amount":1,"req":1,"card":"c","` + key + `":` + v + "}"
				slow := NewDecoder(s)
				slow.slow = true
				slow.SetBounds(event.Bounds{MaxString: max})
				if d := decodePair(fast, slow, []byte(line), []byte(line)); d != "" {
					t.Fatalf("bound %d, %q: %s", max, line, d)
				}
			}
		}
	}
}
