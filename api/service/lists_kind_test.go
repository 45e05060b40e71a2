package service

import (
	"strings"
	"testing"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
)

// TestListKinds: every kind of the API but the unspecified one is the refdata kind of its
// name, both ways; the unspecified one and an unknown kind map to nothing.
func TestListKinds(t *testing.T) {
	for v, name := range cepv1.ListKind_name {
		p := cepv1.ListKind(v)
		kind, ok := kindOf(p)
		if p == cepv1.ListKind_LIST_KIND_UNSPECIFIED {
			if ok {
				t.Errorf("kindOf(%s) = %q", name, kind)
			}
			continue
		}
		if !ok || !kind.Valid() || string(kind) != strings.ToLower(name) {
			t.Errorf("kindOf(%s) = %q, %v", name, kind, ok)
		}
		if back := kindToProto(string(kind)); back != p {
			t.Errorf("kindToProto(%q) = %s, want %s", kind, back, name)
		}
	}
	if p := kindToProto("nope"); p != cepv1.ListKind_LIST_KIND_UNSPECIFIED {
		t.Errorf("kindToProto(nope) = %s", p)
	}
}
