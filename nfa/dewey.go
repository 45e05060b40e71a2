package nfa

import (
	"strconv"
	"strings"
)

// dewey is a Dewey version number (as in SASE+ and Flink's DeweyNumber): it tells which
// shared-buffer edges belong to which run. Values are immutable: operations return new
// slices (or the receiver when nothing changes), so runs may share them.
type dewey []int32

func newDewey(start int32) dewey { return dewey{start} }

// increase adds n to the last digit.
func (d dewey) increase(n int) dewey {
	if n == 0 {
		return d
	}
	c := make(dewey, len(d))
	copy(c, d)
	c[len(c)-1] += int32(n)
	return c
}

// addStage appends a 0 digit.
func (d dewey) addStage() dewey {
	c := make(dewey, len(d)+1)
	copy(c, d)
	return c
}

// increaseAndAddStage is increase(n).addStage() with one allocation.
func (d dewey) increaseAndAddStage(n int) dewey {
	c := make(dewey, len(d)+1)
	copy(c, d)
	c[len(d)-1] += int32(n)
	return c
}

// compatible reports whether a run with version d may follow an edge with version o:
// o is a prefix of d, or they differ only in the last digit and d's is not smaller.
func (d dewey) compatible(o dewey) bool {
	switch {
	case len(d) > len(o):
		for i := range o {
			if o[i] != d[i] {
				return false
			}
		}
		return true
	case len(d) == len(o):
		last := len(d) - 1
		for i := 0; i < last; i++ {
			if o[i] != d[i] {
				return false
			}
		}
		return d[last] >= o[last]
	}
	return false
}

func (d dewey) String() string {
	parts := make([]string, len(d))
	for i, x := range d {
		parts[i] = strconv.Itoa(int(x))
	}
	return strings.Join(parts, ".")
}
