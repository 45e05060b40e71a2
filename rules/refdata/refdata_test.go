package refdata

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/internal/testfile"
)

func TestListParseEncodeRoundTrip(t *testing.T) {
	d, err := Parse("merchant_watch", KindWatch, []byte("m-3\nm-1\n\nm-2\nm-1\n"), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 3 || !d.Has("m-1") || !d.Has("m-3") || d.Has("m-4") || d.Has("") {
		t.Fatalf("entries %v", d.Keys())
	}
	text := Encode(d)
	if want := "key\nm-1\nm-2\nm-3\n"; string(text) != want {
		t.Fatalf("encode %q, want %q", text, want)
	}
	back, err := Parse("merchant_watch", KindWatch, text, ParseOptions{Header: true})
	if err != nil {
		t.Fatal(err)
	}
	if back.Digest != d.Digest || !bytes.Equal(Encode(back), text) {
		t.Fatalf("round trip changed the dataset: %q", Encode(back))
	}
	e, err := d.Edit([]string{"m-9"}, []string{"m-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.Keys(), ","); got != "m-2,m-3,m-9" {
		t.Fatalf("edit gave %s", got)
	}
	if e.Digest == d.Digest {
		t.Fatal("an edit kept the digest")
	}
}

func TestTableParse(t *testing.T) {
	csvText := "merchant_id,tier,score:double,since:int,blocked:bool\nm-2,high,91.5,2019,true\nm-1,low,,2020,false\n"
	d, err := Parse("merchant_risk", KindTable, []byte(csvText), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	row, ok := d.Row("m-2")
	if !ok || fmt.Sprint(row) != "[high 91.5 2019 true]" {
		t.Fatalf("row m-2 = %v %v", row, ok)
	}
	row, _ = d.Row("m-1")
	if row[1] != nil {
		t.Fatalf("an empty cell is %v, want nil", row[1])
	}
	if i, ok := d.Column("score"); !ok || i != 1 {
		t.Fatal("column score")
	}
	want := "merchant_id,tier,score:double,since:int,blocked:bool\nm-1,low,,2020,false\nm-2,high,91.5,2019,true\n"
	if got := string(Encode(d)); got != want {
		t.Fatalf("encode\n%s\nwant\n%s", got, want)
	}
	j, err := Parse("merchant_risk", KindTable, []byte(`{"key":"m-2","tier":"high","score":91.5,"since":2019,"blocked":true}
{"key":"m-1","tier":"low","since":2020,"blocked":false}
`), ParseOptions{Format: FormatJSONL})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := j.Row("m-2"); fmt.Sprint(r) != "[true 91.5 2019 high]" { // columns sorted by name
		t.Fatalf("jsonl row %v (columns %v)", r, j.Columns)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		text string
		o    ParseOptions
		want string
	}{
		{KindTable, "k,score:double\na,1.5\na,2\n", ParseOptions{}, `key "a" appears twice`},
		{KindTable, "k,score:double\na,x\n", ParseOptions{}, `line 2: column score: "x" is not a double`},
		{KindTable, "k,score:float\n", ParseOptions{}, `type "float"`},
		{KindTable, "k,a\nx,1,2\n", ParseOptions{}, "line 2: 3 cells, the header has 2"},
		{KindWatch, "a\nb\nc\n", ParseOptions{MaxEntries: 2}, "more than 2 entries"},
		{KindWatch, `{"key":"a"}`, ParseOptions{Format: FormatJSONL}, "JSON lines are for tables"},
		{KindTable, `{"tier":"a"}`, ParseOptions{Format: FormatJSONL}, `no key field "key"`},
		{"grey", "a\n", ParseOptions{}, `kind "grey"`},
	} {
		_, err := Parse("x", tc.kind, []byte(tc.text), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: error %v, want %q", tc.kind, tc.text, err, tc.want)
		}
	}
}

func TestKeyString(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{{"a", "a"}, {int64(42), "42"}, {42.0, "42"}, {4.5, "4.5"}, {true, "true"}, {uint64(7), "7"}} {
		if got, ok := KeyString(tc.v); !ok || got != tc.want {
			t.Errorf("KeyString(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	write := testfile.Writer(t, dir)
	write("merchant_watch.watch.csv", "merchant_id\nm-1\n")
	write("bins.table.jsonl", `{"key":"411111","country":"US"}`+"\n")
	write("notes.txt", "ignored")
	c, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Names(nil), ","); got != "bins,merchant_watch" {
		t.Fatalf("names %s", got)
	}
	write("merchant_watch.block.csv", "x\n")
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "both define") {
		t.Fatalf("two files for one dataset: %v", err)
	}
}

// million returns n distinct card-like values.
func million(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("card-%08d", i*7919%n)
	}
	return out
}

// TestIndexMemory measures the bytes per entry of a 1M-entry list against a Go map (go test
// ./rules/refdata -run TestIndexMemory -v).
func TestIndexMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 1M entries twice")
	}
	keys := million(1_000_000)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var csvText bytes.Buffer
	for _, k := range keys {
		csvText.WriteString(k)
		csvText.WriteByte('\n')
	}
	text := csvText.Bytes()
	base := heap()
	start := time.Now()
	d, err := Parse("cards", KindBlock, text, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	ours := heap() - base
	runtime.KeepAlive(text)
	base = heap()
	m := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		m[string([]byte(k))] = struct{}{}
	}
	theirs := heap() - base
	t.Logf("1M 13-byte values: parse+index %v; index %.1f B/entry (Bytes() %.1f); map[string]struct{} %.1f B/entry",
		took.Round(time.Millisecond), float64(ours)/1e6, float64(d.Bytes())/1e6, float64(theirs)/1e6)
	if d.Len() != len(keys) || !d.Has(keys[123456]) {
		t.Fatal("lost entries")
	}
	if ours >= theirs {
		t.Fatalf("the index takes %d bytes, a map %d", ours, theirs)
	}
	runtime.KeepAlive(m)
	runtime.KeepAlive(d)
}

// BenchmarkLookup: go test ./rules/refdata -run '^$' -bench Lookup -benchmem
func BenchmarkLookup(b *testing.B) {
	keys := million(1_000_000)
	ents := make([]Entry, len(keys))
	for i, k := range keys {
		ents[i] = Entry{Key: k}
	}
	d, err := Build("cards", KindBlock, "card_id", nil, ents)
	if err != nil {
		b.Fatal(err)
	}
	probes := make([]string, 1024)
	for i := range probes {
		if i%2 == 0 {
			probes[i] = keys[(i*104729)%len(keys)]
		} else {
			probes[i] = fmt.Sprintf("miss-%08d", i)
		}
	}
	b.Run("index-1M", func(b *testing.B) {
		hits := 0
		for i := 0; i < b.N; i++ {
			if d.Has(probes[i&1023]) {
				hits++
			}
		}
		if hits == 0 {
			b.Fatal("no hit")
		}
	})
	m := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		m[k] = struct{}{}
	}
	b.Run("map-1M", func(b *testing.B) {
		hits := 0
		for i := 0; i < b.N; i++ {
			if _, ok := m[probes[i&1023]]; ok {
				hits++
			}
		}
		if hits == 0 {
			b.Fatal("no hit")
		}
	})
}

// BenchmarkImport1M parses and indexes a 1M-row CSV: go test ./rules/refdata -run '^$' -bench Import -benchtime 3x
func BenchmarkImport1M(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("card_id\n")
	for _, k := range million(1_000_000) {
		buf.WriteString(k)
		buf.WriteByte('\n')
	}
	b.SetBytes(int64(buf.Len()))
	for i := 0; i < b.N; i++ {
		if _, err := Parse("cards", KindBlock, buf.Bytes(), ParseOptions{Header: true}); err != nil {
			b.Fatal(err)
		}
	}
}
