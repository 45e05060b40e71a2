package rules

import (
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// The CEL map plumbing that match (matchMap) and agg (aggMap) share: read-only maps from
// a rule's names to values computed on demand, equal only to themselves. Each map finds
// a name its own way (find: the value and true; an error value and false for a name
// whose value is an error; nil and false for no such name).

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

// mapContains is Contains over find: true or false, or the error find gave.
func mapContains(find func(ref.Val) (ref.Val, bool), key ref.Val) ref.Val {
	v, found := find(key)
	if !found && v != nil {
		return v
	}
	return types.Bool(found)
}

// mapGet is Get over find; the error for a missing key says it is not what ("a step of
// this rule").
func mapGet(find func(ref.Val) (ref.Val, bool), key ref.Val, what string) ref.Val {
	v, found := find(key)
	if !found {
		if v != nil {
			return v
		}
		return types.NewErr("no such key: %v (not %s)", key, what)
	}
	return v
}

// nameKey returns the name a map key holds; a key that is no string gives false, and the
// key itself when it is unknown or an error (to be returned as the lookup's result).
func nameKey(key ref.Val) (string, ref.Val, bool) {
	name, ok := key.(types.String)
	if !ok {
		if types.IsUnknownOrError(key) {
			return "", key, false
		}
		return "", nil, false
	}
	return string(name), nil, true
}
