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
// collector never scans them. The start version is a constant, and the small versions
// most runs hold are substrings of one table (smallDewey): neither costs an allocation.
// Any other takes a slot of the runtime's tiny allocator (up to three digits) or a
// string of its own.
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
	return deweyFrom(b) // a restored run holds what a live one would
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
// allocation (the string), none of a buffer for versions up to 16 digits. A result the
// table holds (smallDewey) is read from it without building its bytes (smallWith).
func (d dewey) with(n int, stage bool) dewey {
	if v, ok := d.smallWith(n, stage); ok {
		return v
	}
	var buf [64]byte
	b := append(buf[:0], d...)
	last := len(b) - 4
	binary.LittleEndian.PutUint32(b[last:], uint32(int32(binary.LittleEndian.Uint32(b[last:]))+int32(n)))
	if stage {
		b = append(b, 0, 0, 0, 0)
	}
	return deweyFrom(b)
}

// smallWith is with for a result of up to three digits the table holds: the table's
// copy, which with would also return (deweyFrom), computed from d's digits; ok is false
// for every other result (with builds it). Runs hold one to three digits nearly always.
func (d dewey) smallWith(n int, stage bool) (dewey, bool) {
	switch len(d) {
	case 4:
		x := uint32(d.digit(0) + int32(n))
		if !stage {
			return small1Dewey(x)
		}
		return small2Dewey(x, 0)
	case 8:
		x, y := uint32(d.digit(0)), uint32(d.digit(1)+int32(n))
		if !stage {
			return small2Dewey(x, y)
		}
		return small3Dewey(x, y, 0)
	case 12:
		if !stage {
			return small3Dewey(uint32(d.digit(0)), uint32(d.digit(1)), uint32(d.digit(2)+int32(n)))
		}
	}
	return "", false
}

// deweyFrom returns the version whose bytes are b: the table's copy when the table holds
// it (smallDewey), else a string of its own. Every version is made here, so a run holds
// the same whether its version was computed (with) or restored (deweyOf).
func deweyFrom(b []byte) dewey {
	if v, ok := smallDewey(b); ok {
		return v
	}
	return dewey(b)
}

// Small versions are substrings of one table made at start-up and never written again,
// so that the versions most runs and edges hold cost no allocation and no heap: every
// one-digit version below small1, every two-digit version whose digits are below
// small2a and small2b, and every three-digit version whose digits are below small3a and
// small3b (a run's version is the number of runs its start state began before it, then
// a digit per stage it went through, raised by the branches it left). The three-digit
// versions are what a run two stages in holds: on the reference workload (100k cards)
// nearly every run of refund-exceeds-purchase waits with one (x.0.0, x.0.1, x.1.0 with x
// below 128), about 700k runs at the end of the 1M-event stream, each a 16-byte allocation
// without the table.
const (
	small1  = 1 << 12
	small2a = 1 << 10
	small2b = 1 << 3
	small3a = 1 << 7
	small3b = 1 << 3
)

// smallDeweyAt2 and smallDeweyAt3 are where the table's two- and three-digit versions
// start.
const (
	smallDeweyAt2 = 4 * small1
	smallDeweyAt3 = smallDeweyAt2 + 8*small2a*small2b
)

var smallDeweys = makeSmallDeweys()

// makeSmallDeweys returns the table: the one-digit versions 0 … small1-1, then the
// two-digit versions in the order of their digits, then the three-digit ones likewise.
func makeSmallDeweys() string {
	b := make([]byte, 0, smallDeweyAt3+12*small3a*small3b*small3b)
	for x := range uint32(small1) {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	for x := range uint32(small2a) {
		for y := range uint32(small2b) {
			b = binary.LittleEndian.AppendUint32(b, x)
			b = binary.LittleEndian.AppendUint32(b, y)
		}
	}
	for x := range uint32(small3a) {
		for y := range uint32(small3b) {
			for z := range uint32(small3b) {
				b = binary.LittleEndian.AppendUint32(b, x)
				b = binary.LittleEndian.AppendUint32(b, y)
				b = binary.LittleEndian.AppendUint32(b, z)
			}
		}
	}
	return string(b)
}

// smallDewey returns the table's copy of the version b, if it holds one.
func smallDewey(b []byte) (dewey, bool) {
	switch len(b) {
	case 4:
		return small1Dewey(binary.LittleEndian.Uint32(b))
	case 8:
		return small2Dewey(binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]))
	case 12:
		return small3Dewey(binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:]))
	}
	return "", false
}

// small1Dewey, small2Dewey and small3Dewey return the table's copy of the version with
// the given digits (as unsigned: a negative digit is never in the table), if it holds one.
func small1Dewey(x uint32) (dewey, bool) {
	if x < small1 {
		return dewey(smallDeweys[4*x : 4*x+4]), true
	}
	return "", false
}

func small2Dewey(x, y uint32) (dewey, bool) {
	if x < small2a && y < small2b {
		i := smallDeweyAt2 + 8*(x*small2b+y)
		return dewey(smallDeweys[i : i+8]), true
	}
	return "", false
}

func small3Dewey(x, y, z uint32) (dewey, bool) {
	if x < small3a && y < small3b && z < small3b {
		i := smallDeweyAt3 + 12*((x*small3b+y)*small3b+z)
		return dewey(smallDeweys[i : i+12]), true
	}
	return "", false
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
