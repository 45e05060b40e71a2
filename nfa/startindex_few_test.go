package nfa

import (
	"fmt"
	"testing"
)

// TestStartIndexLookupMatchesMap: the first level's scan of few values (lookup) finds
// exactly what the map does, for every count of values around maxFew, for the values
// themselves and for strings of the same length, prefixes, extensions and the empty
// string.
func TestStartIndexLookupMatchesMap(t *testing.T) {
	for n := 0; n <= maxFew+2; n++ {
		x := &StartIndex{by: map[string]int{}}
		var probes []string
		for i := range n {
			v := fmt.Sprintf("type%c%d", 'a'+i, i%3)
			x.by[v] = i
			probes = append(probes, v, v[:len(v)-1], v+"x", fmt.Sprintf("type%c%d", 'a'+i, i%3+1))
		}
		probes = append(probes, "", "auth", "typez0")
		x.indexFew()
		if (x.few != nil) != (n > 0 && n <= maxFew) {
			t.Fatalf("%d values: scan list %v", n, x.few)
		}
		for _, v := range probes {
			wi, wok := x.by[v]
			gi, gok := x.lookup(v)
			if gi != wi || gok != wok {
				t.Fatalf("%d values: lookup(%q) = %d, %v; the map says %d, %v", n, v, gi, gok, wi, wok)
			}
		}
	}
}
