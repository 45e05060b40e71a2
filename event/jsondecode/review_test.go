package jsondecode

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/eventtest"
)

// The review of the schema-specialised fast path (s15-decode): schemas the other tests do
// not have (more than 64 fields, names whose key is 15, 16 and 17 bytes and share a
// prefix, keys that collide in the key table) and sequences of events decoded by one
// long-lived decoder (its predictions, its date cache and its builder's buffers carried
// from event to event), each compared with the slow path.

// wideSchema has 75 fields (one of type any, which only inferred schemas have): the card fields, one of each type, four names around the 14
// bytes a table key holds (keys of 15 to 18 bytes with their quotes and colon), sixty
// optional ints, and a required field past the first 64.
func wideSchema(t testing.TB) *event.Schema {
	fields := []string{"ts: timestamp", "t2: timestamp?", "amount: double", "n: int?", "ok: bool?",
		"note: string?", "abcdefghijkl: int?", "abcdefghijklm: string?",
		"abcdefghijklmn: double?", "abcdefghijklmno: bool?"}
	for k := range 60 {
		fields = append(fields, fmt.Sprintf("f%d: int?", k))
	}
	fields = append(fields, "req: int", "last: timestamp?")
	y := eventtest.Schema(t, eventtest.CardSchema(fields...))
	fs := append(append([]event.Field(nil), y.Fields[:7]...), event.Field{Name: "x", Type: event.TypeAny, Optional: true})
	s, err := event.NewSchema("wide", append(fs, y.Fields[7:]...), y.KeyField, y.TimeField, y.IDField)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wideBase is an event of wideSchema, a member a string.
var wideBase = []string{`"id":"1"`, `"card":"c"`, `"ts":"2024-01-01T00:00:00.263Z"`, `"amount":1.5`,
	`"abcdefghijklm":"abcdefghi"`, `"f59":7`, `"req":1`, `"ok":true`, `"t2":"2024-01-01T00:00:00.000Z"`}

// reviewValues are values for every field: numbers at the edges, literals running on,
// timestamps of 24 bytes that are not valid times, strings around 8 and 16 bytes with
// escapes and control bytes at the word boundaries.
var reviewValues = func() []string {
	v := []string{
		`0`, `-0`, `00`, `-00`, `01`, `-01`, `0.0`, `-0.0`, `1.`, `.5`, `-.5`, `1.5`, `1e400`, `-1e400`, `1e-400`,
		`123456789012345`, `1234567890123456`, `12345678901234567`, `123456789012345678`,
		`1234567890123456789`, `9223372036854775807`, `9223372036854775808`, `-9223372036854775808`,
		`-9223372036854775809`, `0.123456789012345`, `0.1234567890123456`, `999999999999999.9`,
		`1.5x`, `1x`, `1"`, `1:`, `1{`, `true`, `truex`, `true"`, `false`, `falsex`, `null`, `nulls`, `null"`,
		`"2024-02-30T00:00:00.000Z"`, `"2024-02-29T00:00:00.000Z"`, `"2023-02-29T00:00:00.000Z"`,
		`"2024-01-01T24:00:00.000Z"`, `"2016-12-31T23:59:60.000Z"`, `"2024-13-01T00:00:00.000Z"`,
		`"2024-00-01T00:00:00.000Z"`, `"2024-01-00T00:00:00.000Z"`, `"2024-01-01T00:60:00.000Z"`,
		`"2024-01-01T00:00:00.000z"`, `"2024-01-01t00:00:00.000Z"`, `"2024-01-01T00:00:00,000Z"`,
		`"2024-01-01T00:00:00+00:00"`, `"2024-01-01T00:00:00-01:00"`, `"2024-01-01T00:00:00.0+01:00"`,
		`"2024-01-01T00:00:0.0000Z"`, `"2024-01-01T00:00:00.000ZZ"`, `"2024-01-01T00:00:00.0000"`,
		`"2024-01-0100:00:00.0000Z"`, `"2024-01-01X00:00:00.000Z"`, `"2024-01-01T00:00:00.00 Z"`,
		`"1969-12-31T23:59:59.999Z"`, `"2200-01-01T00:00:00.000Z"`, `"2199-12-31T23:59:59.999Z"`,
		`"2262-04-11T23:47:16.854Z"`, `"2262-04-11T23:47:16.855Z"`, `"0000-01-01T00:00:00.000Z"`,
		`"2024-01-01T00:00:00.000Z`, `"2024-01-01T00:00:00.00\"Z"`, `"2024-01-01T00:00:00.00\\Z"`,
		`"2024-01-01T00:00:00.123456789Z"`, `"2024-01-01T00:00:00.1234567890Z"`, `"2024-01-01T00:00:00.Z"`,
		`"2024-1-01T00:00:00.000Z"`, `"+2024-01-01T00:00:00.000Z"`, `1704067200263`, `-1`, `1704067200263.5`,
		`{}`, `[]`, `{"a":1}`, ` 1`, "\t1", `1 `, `"a" `,
	}
	for n := range 19 { // strings of 0 to 18 bytes with a special byte at each end and middle
		x := strings.Repeat("x", n)
		v = append(v, `"`+x+`"`)
		for _, sp := range []string{`\"`, `\\`, `\n`, `\u0041`, "\x01", "\x1f", "\x7f", "é", "\t"} {
			v = append(v, `"`+x+sp+`"`, `"`+sp+x+`"`)
		}
	}
	return v
}()

// reviewKeys are keys that are a schema name or nearly: spelled with escapes or blanks,
// sharing the 16 bytes a table key reads, one byte longer or shorter.
var reviewKeys = []string{
	`"amount"`, `"amount" `, `"amoun"`, `"amountt"`, `"\u0061mount"`, `"amount\u0000"`, `"amou\"nt"`,
	`"abcdefghijkl"`, `"abcdefghijklm"`, `"abcdefghijklmn"`, `"abcdefghijklmno"`, `"abcdefghijklmnop"`,
	`"abcdefghijklX"`, `"abcdefghijklmX"`, `"abcdefghijklmnX"`, `"abcdefghijk"`, `"abcdefghijklm\""`,
	`"abcdefghijkl\u006d"`, `"abcdefghijklm" `, `""`, `"card"`, `"ts"`, `"t2"`, `"req"`, `"f0"`, `"f63"`,
	`"f64"`, `"last"`, `"x"`, `"ok"`, `"\\"`, `"\""`,
}

// checkSequence decodes each line by the long-lived decoders in fast (each line in
// turn, so that they carry predictions, dates and buffers from line to line) and by a
// new slow-path decoder, and fails t where they differ.
func checkSequence(t *testing.T, s *event.Schema, fast []*Decoder, lines ...string) {
	t.Helper()
	for _, l := range lines {
		for k, d := range fast {
			slow := NewDecoder(s)
			slow.slow = true
			if diff := decodeWith(d, slow, []byte(l)); diff != "" {
				t.Fatalf("decoder %d, %q: %s", k, l, diff)
			}
		}
	}
}

// TestWideSchemaFastIsSlow: on a schema of 75 fields, each member of an event with its
// value replaced by each of reviewValues, and its key by each of reviewKeys, and each
// such event cut at every length, is decoded by a trained decoder and a new one as the
// slow path decodes it; between them the usual event makes the predictions hit again.
func TestWideSchemaFastIsSlow(t *testing.T) {
	s := wideSchema(t)
	trained := NewDecoder(s)
	base := "{" + strings.Join(wideBase, ",") + "}"
	checkSequence(t, s, []*Decoder{trained}, base, base)
	if !fastTaken(s, base) {
		t.Fatal("the fast path declines the base event")
	}
	for k, m := range wideBase {
		key, _, _ := strings.Cut(m, ":")
		variants := make([]string, 0, len(reviewValues)+len(reviewKeys))
		for _, v := range reviewValues {
			variants = append(variants, key+":"+v)
		}
		val := m[len(key)+1:]
		for _, kk := range reviewKeys {
			variants = append(variants, kk+":"+val, kk+":1", kk+`:"2024-01-02T00:00:00.000Z"`, kk+":true")
		}
		for _, v := range variants {
			ms := append([]string(nil), wideBase...)
			ms[k] = v
			in := "{" + strings.Join(ms, ",") + "}"
			checkSequence(t, s, []*Decoder{trained, NewDecoder(s)}, in, base)
			dup := "{" + strings.Join(append(ms, wideBase[k]), ",") + "}" // a repeated member, the last one counts
			checkSequence(t, s, []*Decoder{trained}, dup, "{"+strings.Join(append(append([]string(nil), wideBase...), v), ",")+"}", base)
			if k == len(wideBase)-1 {
				for n := range len(in) {
					checkSequence(t, s, []*Decoder{trained}, in[:n], base)
				}
			}
		}
	}
}

// TestDateCacheSequence: one decoder reads times whose dates follow each other, repeat,
// differ in one byte of the date, or are invalid after a valid date with the same
// prefix; each decodes as the slow path decodes it.
func TestDateCacheSequence(t *testing.T) {
	s := wideSchema(t)
	d := NewDecoder(s)
	ev := func(ts, t2 string) string {
		return `{"id":"1","card":"c","ts":` + ts + `,"amount":1,"req":1,"t2":` + t2 + `}`
	}
	dates := []string{"2024-02-28", "2024-02-29", "2024-02-30", "2023-02-29", "2024-02-2x", "2024-02-28",
		"2024-12-31", "2024-13-31", "2025-01-01", "2024-01-01", "2024 01-01", "2024-01-01", "2199-12-31",
		"2200-01-01", "1970-01-01", "1969-12-31", "2024-01-1", "2024-01-011"}
	clocks := []string{"T00:00:00.000Z", "T23:59:59.999Z", "T24:00:00.000Z", "T23:59:60.000Z", "T00:00:00Z",
		"T00:00:00.000+01:00", "X00:00:00.000Z", "T00:00:00.000", "T00:00:00.0000Z"}
	r := rand.New(rand.NewPCG(23, 24))
	for range 4000 {
		ts := `"` + dates[r.IntN(len(dates))] + clocks[r.IntN(len(clocks))] + `"`
		t2 := `"` + dates[r.IntN(len(dates))] + clocks[r.IntN(len(clocks))] + `"`
		checkSequence(t, s, []*Decoder{d}, ev(ts, t2))
	}
}

// collidingNames returns n names, prefix and a number, whose keys fall in the same slot of
// a key table of n fields (keyTable.hash), and m more such names to leave undeclared. A
// prefix of 7 bytes gives them all the same first word (the quote and the prefix).
func collidingNames(prefix string, n, m int) (names, others []string) {
	codes := []fieldCode{newFieldCode(event.Field{Name: "k0"})}
	t := newKeyTable(make([]fieldCode, n))
	want := -1
	for k := 0; len(names)+len(others) < n+m; k++ {
		name := fmt.Sprintf("%s%d", prefix, k)
		codes[0] = newFieldCode(event.Field{Name: name})
		h := t.hash(codes[0].k0, codes[0].k1)
		if want < 0 {
			want = h
		}
		if h != want {
			continue
		}
		if len(names) < n {
			names = append(names, name)
		} else {
			others = append(others, name)
		}
	}
	return names, others
}

// TestCollidingKeysFastIsSlow: a schema whose names all hash to one slot of the key table
// (so that finding one probes past the others), short or sharing their first word,
// decodes events of its names, of names that
// collide with them but are not declared, and of both in any order, as the slow path does.
func TestCollidingKeysFastIsSlow(t *testing.T) {
	for _, prefix := range []string{"k", "abcdefg"} {
		t.Run(prefix, func(t *testing.T) { testCollidingKeys(t, prefix) })
	}
}

func testCollidingKeys(t *testing.T, prefix string) {
	names, others := collidingNames(prefix, 6, 4)
	fields := []string{"ts: int"}
	for _, n := range names {
		fields = append(fields, n+": int?")
	}
	s := eventtest.Schema(t, eventtest.CardSchema(fields...))
	if tab := NewDecoder(s).table; len(tab.slots) != 64 {
		t.Fatalf("table of %d slots, want 64", len(tab.slots))
	}
	pool := []string{`"id":"1"`, `"card":"c"`, `"ts":1`}
	for k, n := range names {
		pool = append(pool, fmt.Sprintf(`"%s":%d`, n, k))
	}
	for _, n := range others {
		pool = append(pool, fmt.Sprintf(`"%s":9`, n))
	}
	r := rand.New(rand.NewPCG(25, 26))
	d := NewDecoder(s)
	taken := 0
	for range 3000 {
		var ms []string
		for _, p := range r.Perm(len(pool)) {
			if p < 3 || r.IntN(2) == 0 {
				ms = append(ms, pool[p])
			}
		}
		in := "{" + strings.Join(ms, ",") + "}"
		checkSequence(t, s, []*Decoder{d}, in)
		if fastTaken(s, in) {
			taken++
		}
	}
	if taken != 3000 {
		t.Fatalf("the fast path took %d of 3000 events", taken)
	}
	// every declared name is found by the table, no other name is
	dec := NewDecoder(s)
	for f, c := range dec.codes {
		if got := dec.table.find(dec.codes, c.k0, c.k1); c.n != 0 && got != f {
			t.Fatalf("field %d (%s): found %d", f, s.Fields[f].Name, got)
		}
	}
	for _, n := range others {
		if c := newFieldCode(event.Field{Name: n}); dec.table.find(dec.codes, c.k0, c.k1) >= 0 {
			t.Fatalf("%s: found, not declared", n)
		}
	}
}

// FuzzSequenceFastIsSlow: the lines of the input, decoded in turn by one long-lived
// decoder of the wide schema, decode as a new slow-path decoder decodes each.
func FuzzSequenceFastIsSlow(f *testing.F) {
	s := wideSchema(f)
	base := "{" + strings.Join(wideBase, ",") + "}"
	f.Add([]byte(base + "\n" + base))
	f.Add([]byte(base + "\n" + strings.Replace(base, "2024-01-01T00:00:00.263Z", "2024-01-01T24:00:00.263Z", 1)))
	f.Add([]byte(base + "\n" + strings.Replace(base, `"amount":1.5`, `"amount":1e400`, 1)))
	f.Add([]byte(base + "\n" + strings.Replace(base, `"abcdefghijklm"`, `"abcdefghijklmn"`, 1)))
	f.Add([]byte(base + "\n" + strings.Replace(base, `"req":1`, `"req":null`, 1)))
	f.Fuzz(func(t *testing.T, in []byte) {
		d := NewDecoder(s)
		checkSequence(t, s, []*Decoder{d}, strings.Split(string(in), "\n")...)
	})
}

// TestLongNamePredictionIsSlow: a member whose name is too long for a table key (its
// field's code has n 0; flatMember reads it by name) becomes the prediction for its
// position, and the next event has another member there. The code of such a field
// matches no key (fieldCode.is), so the next member is looked up in the table: one
// long-lived decoder takes the fast path for each event of every order of the members,
// and decodes it as the slow path does. (With a code of k0 0, which matches every key,
// the long field's code was taken for a match and the key read as its value: the fast
// path declined, and this test failed.)
func TestLongNamePredictionIsSlow(t *testing.T) {
	s := wideSchema(t)
	ms := []string{`"abcdefghijklmno":true`, `"ok":false`, `"note":"abc"`, `"n":3`, `"abcdefghijklmn":2.5`}
	orders := [][]int{{0, 1, 2, 3, 4}, {1, 0, 2, 3, 4}, {2, 3, 0, 1, 4}, {4, 2, 1, 0, 3}, {3, 4, 0, 2, 1}}
	head := []string{`"id":"1"`, `"card":"c"`, `"ts":1`, `"amount":1`, `"req":1`}
	d := NewDecoder(s)
	for _, a := range orders {
		for _, b := range orders {
			for _, o := range [][]int{a, b} {
				line := slices.Clone(head)
				for _, k := range o {
					line = append(line, ms[k])
				}
				in := []byte("{" + strings.Join(line, ",") + "}")
				d.b.Reset(len(s.Fields))
				if !d.flat(in) {
					t.Fatalf("%s after %v: the fast path declines", in, a)
				}
				checkSequence(t, s, []*Decoder{d}, string(in))
			}
		}
	}
}
