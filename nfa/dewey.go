package nfa

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// dewey is a Dewey version number (as in SASE+ and Flink's DeweyNumber): it tells which
// shared-buffer edges belong to which run. It is held as a string of digits, four bytes
// each (little-endian int32): immutable like the numbers it holds, so runs and edges
// share it freely; 16 bytes in a run or edge; its bytes are pointer-free, so the garbage
// collector never scans them, and a short one (up to three digits) takes a slot of the
// runtime's tiny allocator. The start version is a constant and costs no allocation.
type dewey string

// deweyOne is the version of a run in the start state.
const deweyOne dewey = "\x01\x00\x00\x00"

// deweyOf returns the version with the given digits.
func deweyOf(digits ...int32) dewey {
	var buf [32]byte
	b := buf[:0]
	for _, x := range digits {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	return dewey(b)
}

// n returns the number of digits.
func (d dewey) n() int { return len(d) / 4 }

// digit returns the i-th digit.
func (d dewey) digit(i int) int32 {
	j := 4 * i
	return int32(uint32(d[j]) | uint32(d[j+1])<<8 | uint32(d[j+2])<<16 | uint32(d[j+3])<<24)
}

// digits returns the digits (for snapshots).
func (d dewey) digits() []int32 {
	out := make([]int32, d.n())
	for i := range out {
		out[i] = d.digit(i)
	}
	return out
}

// with returns d with n added to its last digit and, with stage, a 0 digit appended: one
// allocation (the string), none of a buffer for versions up to 16 digits.
func (d dewey) with(n int, stage bool) dewey {
	var buf [64]byte
	b := append(buf[:0], d...)
	last := len(b) - 4
	binary.LittleEndian.PutUint32(b[last:], uint32(int32(binary.LittleEndian.Uint32(b[last:]))+int32(n)))
	if stage {
		b = append(b, 0, 0, 0, 0)
	}
	return dewey(b)
}

// increase adds n to the last digit.
func (d dewey) increase(n int) dewey {
	if n == 0 {
		return d
	}
	return d.with(n, false)
}

// addStage appends a 0 digit.
func (d dewey) addStage() dewey { return d.with(0, true) }

// increaseAndAddStage is increase(n).addStage() with one allocation.
func (d dewey) increaseAndAddStage(n int) dewey { return d.with(n, true) }

// compatible reports whether a run with version d may follow an edge with version o:
// o is a prefix of d, or they differ only in the last digit and d's is not smaller.
// Digits have one width, so a prefix of digits is a prefix of bytes.
func (d dewey) compatible(o dewey) bool {
	switch {
	case len(d) > len(o):
		return strings.HasPrefix(string(d), string(o))
	case len(d) == len(o):
		last := len(d) - 4
		return d[:last] == o[:last] && d.digit(last/4) >= o.digit(last/4)
	}
	return false
}

// compare orders versions digit by digit, a prefix first (as slices.Compare orders the
// digits).
func (d dewey) compare(o dewey) int {
	for i := range min(d.n(), o.n()) {
		if x, y := d.digit(i), o.digit(i); x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	switch {
	case d.n() < o.n():
		return -1
	case d.n() > o.n():
		return 1
	}
	return 0
}

func (d dewey) String() string {
	parts := make([]string, d.n())
	for i := range parts {
		parts[i] = strconv.Itoa(int(d.digit(i)))
	}
	return strings.Join(parts, ".")
}
