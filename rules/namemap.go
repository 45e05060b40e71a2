package rules

import (
	"reflect"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// nameMap is the CEL map that match (matchMap) and agg (aggMap) are: a read-only map from
// a rule's names to values computed on demand, equal only to itself. K says which names
// there are and what each holds.
type nameMap[K nameKind] struct{ k K }

// nameKind is what a nameMap maps.
type nameKind interface {
	// find returns name's value and true; an error value and false for a name whose
	// value is an error; nil and false for no such name.
	find(name string) (ref.Val, bool)
	// names returns the names, in no particular order; size is how many there are.
	names() []string
	size() int
	// native converts a value find gave to Go (ConvertToNative; typeDesc is the map's).
	native(v ref.Val, typeDesc reflect.Type) (any, error)
	// what is what a missing name is not, for the error of Get ("a step of this rule").
	what() string
	// source is the map's Value().
	source() *matchSource
}

var _ traits.Mapper = (*nameMap[aggKind])(nil)

// ConvertToNative gives a map from each name with a value to the value as Go.
func (m *nameMap[K]) ConvertToNative(typeDesc reflect.Type) (any, error) {
	out := make(map[string]any)
	for _, n := range m.k.names() {
		v, ok := m.k.find(n)
		if !ok {
			continue
		}
		x, err := m.k.native(v, typeDesc)
		if err != nil {
			return nil, err
		}
		out[n] = x
	}
	return out, nil
}

func (m *nameMap[K]) ConvertToType(typeVal ref.Type) ref.Val {
	return convertToType(m, types.MapType, typeVal)
}

func (m *nameMap[K]) Equal(other ref.Val) ref.Val { return types.Bool(other == ref.Val(m)) }
func (m *nameMap[K]) Type() ref.Type              { return types.MapType }
func (m *nameMap[K]) Value() any                  { return m.k.source() }
func (m *nameMap[K]) Size() ref.Val               { return types.Int(m.k.size()) }

// Contains is true or false, or the error the name's value is.
func (m *nameMap[K]) Contains(key ref.Val) ref.Val {
	v, found := m.Find(key)
	if !found && v != nil {
		return v
	}
	return types.Bool(found)
}

// Get is the name's value; the error for a missing name says it is not what.
func (m *nameMap[K]) Get(key ref.Val) ref.Val {
	v, found := m.Find(key)
	if !found {
		if v != nil {
			return v
		}
		return types.NewErr("no such key: %v (not %s)", key, m.k.what())
	}
	return v
}

// Find finds a name's value (find); a key that is no string is not found, one that is
// unknown or an error is returned as the result.
func (m *nameMap[K]) Find(key ref.Val) (ref.Val, bool) {
	name, ok := key.(types.String)
	if !ok {
		if types.IsUnknownOrError(key) {
			return key, false
		}
		return nil, false
	}
	return m.k.find(string(name))
}

func (m *nameMap[K]) Iterator() traits.Iterator {
	names := m.k.names()
	vals := make([]ref.Val, len(names))
	for i, n := range names {
		vals[i] = types.String(n)
	}
	return types.NewRefValList(types.DefaultTypeAdapter, vals).Iterator()
}

// convertToType converts v, a value of CEL type own (a map or list of ours), to typeVal:
// v itself as its own type, or its type.
func convertToType(v ref.Val, own *types.Type, typeVal ref.Type) ref.Val {
	switch typeVal {
	case own:
		return v
	case types.TypeType:
		return own
	}
	return types.NewErr("type conversion error from %s to '%s'", own.TypeName(), typeVal)
}
