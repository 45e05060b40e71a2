package state_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/cepd/cepd/state"
)

// TestKeyStateFormatStable: the round-trip table encodes to the same bytes as before
// events kept their values in a slab (3ec45f3), so checkpoints written then restore
// unchanged. A deliberate format change updates the digest and versions the format.
func TestKeyStateFormatStable(t *testing.T) {
	h := sha256.New()
	for _, c := range stateCases(t) {
		h.Write(state.AppendKeyState(nil, c.ks, c.schema))
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), "8ac972aa7fc4b3c0b5122bf07db89541ed77f2e53db948e56ce3b3cadb896464"; got != want {
		t.Fatalf("encoded key states digest %s, want %s", got, want)
	}
}
