package rules

import (
	"fmt"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// plain converts a CEL value to a plain Go value for alerts (JSON-friendly).
func plain(v ref.Val) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case *types.Err:
		return nil, x
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return uint64(x), nil
	case types.Double:
		return float64(x), nil
	case types.String:
		return string(x), nil
	case types.Bytes:
		return []byte(x), nil
	case types.Timestamp:
		return x.Time.UTC().Format(time.RFC3339Nano), nil
	case types.Duration:
		return x.ConvertToType(types.StringType).Value(), nil
	case typedEvent:
		return x.ev.Fields(), nil
	case dynEvent:
		return x.ev.Fields(), nil
	case traits.Mapper:
		out := make(map[string]any)
		it := x.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			pv, err := plain(x.Get(k))
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k.Value())] = pv
		}
		return out, nil
	case traits.Lister:
		n, _ := x.Size().(types.Int)
		out := make([]any, 0, int(n))
		it := x.Iterator()
		for it.HasNext() == types.True {
			pv, err := plain(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, pv)
		}
		return out, nil
	case *types.Optional:
		if !x.HasValue() {
			return nil, nil
		}
		return plain(x.GetValue())
	}
	return nil, fmt.Errorf("a value of type %s cannot be emitted", v.Type().TypeName())
}
