package velocity

import "encoding/binary"

// Key is a comparable value: a group (the value of by) or a value counted by Distinct.
// Kind tells values of different types apart; S holds strings, N the bits of others.
type Key struct {
	S    string
	N    uint64
	Kind uint8
	// l is, in a key the package keeps, the length of a string of 1 to maxInline bytes
	// held in N (S empty; see inline). A key given to the package has it zero.
	l uint8
}

// maxInline is the longest string a kept key holds in its N: most groups and values
// are ids and codes that short (on the reference workload, merchant ids of 7 bytes).
const maxInline = 8

// inline returns the form in which the package keeps k: a string of 1 to maxInline bytes
// (with N zero, as the engine's keys are) moves into N, its byte i in bits 8i to 8i+7, and
// l its length, so that keeping it allocates nothing and the collector has no string to
// visit (as package event holds short strings in a word). Two keys are equal exactly when
// their kept forms are; a kept key's form is itself.
func (k Key) inline() Key {
	n := len(k.S)
	if n == 0 || n > maxInline || k.N != 0 {
		return k
	}
	var b [maxInline]byte
	copy(b[:], k.S)
	return Key{N: binary.LittleEndian.Uint64(b[:]), Kind: k.Kind, l: uint8(n)}
}

// size is the length of k's string, wherever it is held.
func (k *Key) size() int { return len(k.S) + int(k.l) }
