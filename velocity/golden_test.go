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
	var out []ev
	t := int64(1_000_000)
	for range n {
		if rng.IntN(10) == 0 {
			t += rng.Int64N(meanGap * 20)
		} else {
			t += rng.Int64N(meanGap + 1)
		}
		out = append(out, ev{t: t, by: goldenKey(rng, ngroups), num: math.Round(rng.Float64()*1000) / 100, val: goldenKey(rng, nvals)})
	}
	return out
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
	t.Helper()
	var b strings.Builder
	a := New(c.spec)
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
