package velocity

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden-base.txt from this code (only at the commit that defines the expected behaviour)")

// goldenFile holds, for random streams, what the code at 7781c72 (before keys held their
// short strings inline and aggregates were allocated in blocks) wrote and read: the
// checkpoint of each aggregate halfway through its stream, every value the aggregate
// returned after it (AddValue, Value, with and without an undo log rolled back), and
// its checkpoint at the end. The representation may change; none of these may.
const goldenFile = "testdata/golden-base.txt"

// goldenKey returns a random key as the engine makes them (rules.aggKeyOf) and a few it
// never makes (a string with N set): short strings with zero and high bytes, strings
// of 8 and 9 bytes, empty strings, numbers of several kinds.
func goldenKey(rng *rand.Rand, nvals int) Key {
	i := rng.IntN(nvals)
	switch rng.IntN(8) {
	case 0:
		return Key{N: uint64(i), Kind: 2} // an int
	case 1:
		return Key{N: math.Float64bits(float64(i) + 0.5), Kind: 3} // a double
	case 2:
		return Key{S: strings.Repeat("x", i%12), Kind: 4} // lengths 0 … 11
	case 3:
		return Key{S: string([]byte{byte(i), 0}), Kind: 4} // a trailing zero byte
	case 4:
		return Key{S: string([]byte{0xff, byte(i), 0x80}), Kind: 4}
	case 5:
		return Key{S: fmt.Sprintf("m%07d", i), Kind: 4} // 8 bytes, as the reference's ids
	case 6:
		return Key{S: fmt.Sprintf("m%08d", i), Kind: 4} // 9 bytes
	}
	return Key{S: fmt.Sprint("s", i), N: uint64(i % 3), Kind: 4} // N set beside S
}

// goldenStream is stream with goldenKey's groups and values.
func goldenStream(rng *rand.Rand, n int, meanGap int64, ngroups, nvals int) []ev {
	return streamOf(rng, n, meanGap, func() Key { return goldenKey(rng, ngroups) }, func() Key { return goldenKey(rng, nvals) })
}

// goldenCase is one random aggregate and stream.
type goldenCase struct {
	spec Spec
	evs  []ev
}

func goldenCases() []goldenCase {
	rng := rand.New(rand.NewPCG(20, 12))
	var cs []goldenCase
	for i := range 120 {
		spec := Spec{Window: 1000, Func: funcs[i%len(funcs)], By: i/len(funcs)%2 == 1}
		n := 20 + rng.IntN(200)
		gap := int64(1 + rng.IntN(60))
		cs = append(cs, goldenCase{spec: spec, evs: goldenStream(rng, n, gap, 1+rng.IntN(20), 1+rng.IntN(40))})
	}
	return cs
}

// goldenRun feeds c's stream to a new aggregate and returns its checkpoint halfway
// through; then (restored from ckpt when it is not nil, else going on) the rest of the
// stream, with every value read, and the checkpoint at the end, as text. Every fourth
// event of the second half runs under an undo log: added and read, then rolled back,
// the log's values and the values after the roll back recorded, then added again
// without the log.
func goldenRun(t *testing.T, c goldenCase, ckpt []byte) (half []byte, out string) {
	return goldenRunWith(t, c, ckpt, New)
}

// goldenRunWith is goldenRun with the aggregate made by mk.
func goldenRunWith(t *testing.T, c goldenCase, ckpt []byte, mk func(Spec) *Agg) (half []byte, out string) {
	t.Helper()
	var b strings.Builder
	a := mk(c.spec)
	mid := len(c.evs) / 2
	for _, e := range c.evs[:mid] {
		a.Add(e.t, e.by, e.num, e.val)
	}
	half = a.AppendBinary(nil)
	if ckpt != nil {
		r, rest, err := Decode(c.spec, ckpt)
		if err != nil || len(rest) != 0 {
			t.Fatalf("decode: %v (%d bytes left)", err, len(rest))
		}
		a = r
	}
	val := func(v float64, ok bool) {
		if !ok {
			b.WriteString(" -")
			return
		}
		b.WriteString(" " + strconv.FormatFloat(v, 'g', -1, 64))
	}
	u := NewUndo()
	for i, e := range c.evs[mid:] {
		if i%4 == 3 {
			a.Log(u)
			u.Mark()
			val(a.AddValue(e.t, e.by, e.num, e.val))
			val(a.Value(e.t+int64(i%7)*100, e.by))
			u.Undo()
			u.Reset(1 << 20)
			val(a.Value(e.t, e.by))
		}
		val(a.AddValue(e.t, e.by, e.num, e.val))
		val(a.Value(e.t+int64(i%5)*50, c.evs[(i*7)%len(c.evs)].by))
		fmt.Fprintf(&b, " %d", a.EmptyAt())
	}
	b.WriteString(" end ")
	b.WriteString(hex.EncodeToString(a.AppendBinary(nil)))
	return half, b.String()
}

// TestGoldenBase checks the aggregates against what the code at 7781c72 wrote and read
// (goldenFile): the checkpoint halfway through each stream is byte for byte the old one
// (so that either code restores the other's), the old checkpoint restores, and what
// follows (values, EmptyAt, the final checkpoint) is the same from the old checkpoint
// as from the aggregate that went on.
func TestGoldenBase(t *testing.T) {
	cs := goldenCases()
	if *update {
		var b bytes.Buffer
		for _, c := range cs {
			half, out := goldenRun(t, c, nil)
			fmt.Fprintf(&b, "%s\n%s\n", hex.EncodeToString(half), out)
		}
		if err := os.WriteFile(goldenFile, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for i, c := range cs {
		if !sc.Scan() {
			t.Fatalf("case %d: golden file ends", i)
		}
		want, err := hex.DecodeString(sc.Text())
		if err != nil {
			t.Fatal(err)
		}
		if !sc.Scan() {
			t.Fatalf("case %d: golden file ends", i)
		}
		wantOut := sc.Text()
		half, out := goldenRun(t, c, nil)
		if !bytes.Equal(half, want) {
			t.Errorf("case %d (%+v): checkpoint differs from the base's:\n got %x\nwant %x", i, c.spec, half, want)
		}
		if out != wantOut {
			t.Errorf("case %d (%+v): values differ from the base's:\n got %s\nwant %s", i, c.spec, out, wantOut)
		}
		_, out = goldenRun(t, c, want)
		if out != wantOut {
			t.Errorf("case %d (%+v): from the base's checkpoint, values differ:\n got %s\nwant %s", i, c.spec, out, wantOut)
		}
	}
}

// TestGoldenBlocks checks aggregates made in blocks (NewBlock, at every place of blocks
// of every mix of functions, with and without by), and such aggregates recycled after
// use, against the base's values and checkpoints (goldenFile).
func TestGoldenBlocks(t *testing.T) {
	want := readGolden(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for i, c := range goldenCases() {
		n := 1 + rng.IntN(6)
		specs := make([]Spec, n)
		for j := range specs {
			specs[j] = Spec{Window: 1 + rng.Int64N(2000), Func: funcs[rng.IntN(len(funcs))], By: rng.IntN(3) == 0}
		}
		at := rng.IntN(n)
		recycle := rng.IntN(2) == 0
		var others []*Agg   // the block's others, in use beside it
		var before []string // and their checkpoints before it was used
		mk := func(s Spec) *Agg {
			specs[at] = s
			out := make([]*Agg, n)
			NewBlock(specs, out)
			for j, a := range out {
				if a.Spec() != specs[j] || a.EmptyAt() != math.MinInt64 {
					t.Fatalf("case %d: block place %d: %+v, EmptyAt %d", i, j, a.Spec(), a.EmptyAt())
				}
				if j != at { // (few events: a first entry or value is where a block may go wrong)
					for _, e := range c.evs[:[]int{1, 2, len(c.evs) / 3}[(i+j)%3]] {
						a.Add(e.t, e.by, e.num, e.val)
					}
					others, before = append(others, a), append(before, string(a.AppendBinary(nil)))
				}
			}
			a := out[at]
			if recycle {
				for _, e := range c.evs[len(c.evs)/2:] {
					a.Add(e.t, e.by, e.num, e.val)
				}
				if !a.Recycle(rng.IntN(3) * 256) {
					t.Fatal("recycle refused")
				}
			}
			return a
		}
		half, out := goldenRunWith(t, c, nil, mk)
		if hex.EncodeToString(half) != want[i].half || out != want[i].out {
			t.Errorf("case %d (%+v, at %d of %v, recycled %v): differs from the base's", i, c.spec, at, specs, recycle)
		}
		for j, a := range others {
			if string(a.AppendBinary(nil)) != before[j] {
				t.Errorf("case %d: using one aggregate of a block changed another", i)
			}
		}
	}
}

// goldenCaseOut is a case's line pair in goldenFile.
type goldenCaseOut struct{ half, out string }

func readGolden(t *testing.T) []goldenCaseOut {
	t.Helper()
	data, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	var cs []goldenCaseOut
	for i := 0; i+1 < len(lines); i += 2 {
		cs = append(cs, goldenCaseOut{lines[i], lines[i+1]})
	}
	return cs
}
