package jsondecode

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cepd/cepd/event"
)

// intPrefixAgrees reports whether intPrefix reads s, where it reads all of it, as
// strconv.ParseInt does.
func intPrefixAgrees(s string) bool {
	got, e, ok := intPrefix([]byte(s), 0)
	if !ok || e != len(s) {
		return true
	}
	want, err := strconv.ParseInt(s, 10, 64)
	return err == nil && got == want
}

// TestIntPrefixIsParseInt: where intPrefix reads a whole token, strconv.ParseInt (the slow
// path's parseInt) gives the same integer: on edge cases and a million random integers of
// 1 to 20 digits.
func TestIntPrefixIsParseInt(t *testing.T) {
	for _, s := range []string{"0", "-0", "7", "-7", "007", "999999999999999999", "-999999999999999999",
		"1000000000000000000", "9223372036854775807", "-9223372036854775808", "", "-", "--1", "1-", "+1", "1.0", "1e3"} {
		if !intPrefixAgrees(s) {
			t.Fatalf("%q: intPrefix differs from strconv", s)
		}
	}
	r := rand.New(rand.NewPCG(13, 14))
	for range 1_000_000 {
		s := fmt.Sprintf("%020d", r.Uint64())[:1+r.IntN(20)]
		if r.IntN(2) == 0 {
			s = "-" + s
		}
		if !intPrefixAgrees(s) {
			t.Fatalf("%q: intPrefix differs from strconv", s)
		}
	}
	if _, _, ok := intPrefix([]byte("1700000000000"), 0); !ok {
		t.Fatal("intPrefix declines epoch milliseconds")
	}
}

func FuzzIntPrefixIsParseInt(f *testing.F) {
	f.Add("123")
	f.Add("-999999999999999999")
	f.Fuzz(func(t *testing.T, s string) {
		if !intPrefixAgrees(s) {
			t.Fatalf("%q: intPrefix differs from strconv", s)
		}
	})
}

// TestDateCacheIsRFC3339UTC: the decoder's date cache reads every time of a sequence as
// rfc3339UTC does, for sequences that keep, change and come back to dates, valid and
// invalid ones (never held), and clocks and fractions of every shape.
func TestDateCacheIsRFC3339UTC(t *testing.T) {
	dates := []string{"2024-01-01", "2024-01-02", "2024-02-29", "2023-02-29", "2024-13-01", "1969-12-31",
		"2199-12-31", "2200-01-01", "2024-01-0a", "2024/01/01", "2024-01-01", "2000-02-29", "1970-01-01"}
	clocks := []string{"T00:00:00Z", "T23:59:59.999Z", "T12:34:56.263Z", "T24:00:00Z", "T00:00:00.Z",
		"T00:00:00.123456789Z", "T00:00:00.1234567891Z", "t00:00:00Z", "T00:00:00+00:00", "T0:00:00Z", "T00:00:00z", ""}
	r := rand.New(rand.NewPCG(15, 16))
	var c dateCache
	for range 200000 {
		s := dates[r.IntN(len(dates))] + clocks[r.IntN(len(clocks))]
		if r.IntN(20) == 0 && len(s) > 0 {
			b := []byte(s)
			b[r.IntN(len(b))] = "0123456789-:.TZ"[r.IntN(15)]
			s = string(b)
		}
		got, gok := c.rfc3339([]byte(s))
		want, wok := rfc3339UTC([]byte(s))
		if gok != wok || got != want {
			t.Fatalf("%q: cache %d %v, rfc3339UTC %d %v", s, got, gok, want, wok)
		}
	}
}

// shortcutValues are values each of the fast path's shortcuts (fieldCode.op) takes or must
// decline: numbers a short decimal or integer does not read, literals cut short or run
// on, times of other shapes, strings around 8 bytes, escapes, nulls, nesting.
var shortcutValues = []string{
	`0`, `-0`, `-0.0`, `1`, `42.17`, `-118.2615`, `00.50`, `1.`, `.5`, `-`, `--1`, `1e5`, `1E-2`, `1.5e3`,
	`+1`, `1234567890123456`, `123456789012345.6`, `9999999999999999999`, `0x10`, `1_0`, `NaN`,
	`1.2.3`, `1a`, `true`, `false`, `tru`, `truex`, `falsey`, `null`, `nul`, `nullx`, `[1]`, `{"a":1}`,
	`"2024-01-01T00:00:00.263Z"`, `"2024-01-01T00:00:00Z"`, `"2024-01-01T00:00:00.123456Z"`,
	`"2024-02-30T00:00:00.000Z"`, `"2024-01-01T00:00:00+01:00"`, `"2024-01-01T00:00:00.26\u0033Z"`,
	`"2024-01-01 00:00:00.263Z"`, `"1969-12-31T23:59:59.999Z"`, `1704067200263`, `-1`,
	`""`, `"a"`, `"abcdefgh"`, `"abcdefghi"`, `"abcdefghijklmnopqrstu"`, `"a\"b"`, `"a\\b"`, `"\u00e9"`, `"é€"`,
	`"12345678"`, `"x","y":"z"`, `"`, `"abc`, ` 1`, ` "a"`, `1 `, `"a" `,
}

// TestFraudLinesFastIsSlow: the fast path decodes the fraud examples' events, and those
// events with one member's value replaced by each of shortcutValues or with random
// edits (every tenth line), as the slow path does (the same event, slab, error and unknown fields): by a
// decoder that has decoded the lines before (its predictions hit, so each field's
// shortcut reads the value) and by a new one.
func TestFraudLinesFastIsSlow(t *testing.T) {
	s, err := event.LoadSchema("../../testdata/fraud/schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../../testdata/fraud/examples/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatal("no example events", err)
	}
	var lines []string
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				lines = append(lines, l)
			}
		}
		f.Close()
	}
	r := rand.New(rand.NewPCG(17, 18))
	trained, fresh := NewDecoder(s), NewDecoder(s)
	slow := NewDecoder(s)
	slow.slow = true
	check := func(in string) {
		t.Helper()
		for _, d := range []*Decoder{trained, fresh} {
			if diff := decodeWith(d, slow, []byte(in)); diff != "" {
				t.Fatalf("%s: %s", in, diff)
			}
		}
	}
	taken := 0
	for li, l := range lines {
		check(l)
		if fastTaken(s, l) {
			taken++
		}
		if li%10 != 0 { // every tenth line has each member's value replaced
			continue
		}
		members := splitMembers(l)
		for k := range members {
			name, _, _ := strings.Cut(members[k], ":")
			for _, v := range shortcutValues {
				m := append([]string(nil), members...)
				m[k] = name + ":" + v
				check("{" + strings.Join(m, ",") + "}")
				check(l) // back to the usual order: predictions hit again
			}
		}
		for range 400 {
			b := []byte(l)
			for range 1 + r.IntN(2) {
				b[r.IntN(len(b))] = `{}[]:,"\0123456789.-+eEtrufalsn .Z`[r.IntN(34)]
			}
			check(string(b))
		}
	}
	if taken < len(lines)*9/10 {
		t.Fatalf("the fast path took %d of %d example events", taken, len(lines))
	}
}

// splitMembers splits a flat JSON object of scalars whose strings hold no comma into its
// members.
func splitMembers(obj string) []string {
	return strings.Split(strings.TrimSuffix(strings.TrimPrefix(obj, "{"), "}"), ",")
}

// TestCheckPresentMatchesReference: checkPresent (64 kinds a word) refuses the events the
// field-by-field check refuses, with the same error, and leaves the same values (nulls
// made missing), on schemas of 1 to 150 fields with random optional fields and random
// missing and null values.
func TestCheckPresentMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for range 3000 {
		n := 1 + r.IntN(150)
		fields := make([]event.Field, n)
		for i := range fields {
			fields[i] = event.Field{Name: fmt.Sprintf("f%d", i), Type: []event.Type{event.TypeInt, event.TypeString, event.TypeAny}[r.IntN(3)], Optional: r.IntN(3) > 0}
		}
		key, tm := r.IntN(n), r.IntN(n)
		fields[tm].Type = event.TypeInt
		s, err := event.NewSchema("s", fields, fields[key].Name, fields[tm].Name, "")
		if err != nil {
			t.Fatal(err)
		}
		d, ref := NewDecoder(s), NewDecoder(s)
		d.b.Reset(n)
		ref.b.Reset(n)
		bias := r.IntN(40) // per mille of each field missing, and of each null
		for i := range n {
			switch k := r.IntN(1000); {
			case k < bias:
			case k < 2*bias:
				d.b.Set(i, event.Null())
				ref.b.Set(i, event.Null())
			default:
				d.b.Set(i, event.Int(int64(i)))
				ref.b.Set(i, event.Int(int64(i)))
			}
		}
		err = d.checkPresent()
		got := ""
		if de, ok := err.(*event.DecodeError); ok {
			got = de.Reason + " " + de.Field
		} else if err != nil {
			t.Fatal(err)
		}
		want := checkPresentReference(ref)
		if got != want {
			t.Fatalf("%d fields: checkPresent %q, reference %q", n, got, want)
		}
		for i := range n {
			if want == "" && !d.b.Value(i).Equal(ref.b.Value(i)) {
				t.Fatalf("%d fields: value %d: %v, reference %v", n, i, d.b.Value(i), ref.b.Value(i))
			}
		}
	}
}

// checkPresentReference is checkPresent field by field, as it was before it read 64
// kinds at a time: the reason and field of the error it refuses with ("" for none).
func checkPresentReference(d *Decoder) string {
	s := d.schema
	absent := func(i int) bool { return i >= 0 && d.b.Kind(i) <= event.KindNull }
	switch {
	case absent(s.KeyIndex()):
		return event.ReasonMissingKey + " " + s.KeyField
	case absent(s.TimeIndex()):
		return event.ReasonMissingTime + " " + s.TimeField
	}
	for i, f := range s.Fields {
		if absent(i) {
			if !f.Optional && f.Type != event.TypeAny {
				return event.ReasonMissingField + " " + f.Name
			}
			d.b.Clear(i)
		}
	}
	return ""
}
