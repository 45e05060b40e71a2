package rules

import (
	"math"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// Overload ids of the helper functions (also used by the cost estimator).
const (
	ovSum            = "cepd_sum_list"
	ovAvg            = "cepd_avg_list"
	ovMin            = "cepd_min_list"
	ovMax            = "cepd_max_list"
	ovCount          = "cepd_count_list"
	ovDistinct       = "cepd_distinct_list"
	ovFirst          = "cepd_first_list"
	ovLast           = "cepd_last_list"
	ovGeoKm          = "cepd_geo_km_double4"
	ovHoursBetween   = "cepd_hours_between"
	ovMinutesBetween = "cepd_minutes_between"
	ovSecondsBetween = "cepd_seconds_between"
)

// EarthRadiusKm is the mean Earth radius geo_km uses (IUGG mean radius R1).
const EarthRadiusKm = 6371.0088

type helperLib struct{}

func helperLibrary() cel.EnvOption { return cel.Lib(helperLib{}) }

func (helperLib) LibraryName() string { return "cepd.helpers" }

func (helperLib) ProgramOptions() []cel.ProgramOption { return nil }

func (helperLib) CompileOptions() []cel.EnvOption {
	t := cel.TypeParamType("T")
	listT := cel.ListType(t)
	listDyn := cel.ListType(cel.DynType)
	d := cel.DoubleType
	ts := cel.TimestampType
	return []cel.EnvOption{
		cel.Function("sum", cel.Overload(ovSum, []*cel.Type{listDyn}, d, cel.UnaryBinding(sumList))),
		cel.Function("avg", cel.Overload(ovAvg, []*cel.Type{listDyn}, d, cel.UnaryBinding(avgList))),
		cel.Function("min", cel.Overload(ovMin, []*cel.Type{listT}, t, cel.UnaryBinding(func(v ref.Val) ref.Val { return extremum(v, -1) }))),
		cel.Function("max", cel.Overload(ovMax, []*cel.Type{listT}, t, cel.UnaryBinding(func(v ref.Val) ref.Val { return extremum(v, 1) }))),
		cel.Function("count", cel.Overload(ovCount, []*cel.Type{listT}, cel.IntType, cel.UnaryBinding(countList))),
		cel.Function("distinct", cel.Overload(ovDistinct, []*cel.Type{listT}, cel.IntType, cel.UnaryBinding(distinctList))),
		cel.Function("first", cel.Overload(ovFirst, []*cel.Type{listT}, t, cel.UnaryBinding(func(v ref.Val) ref.Val { return endOf(v, true) }))),
		cel.Function("last", cel.Overload(ovLast, []*cel.Type{listT}, t, cel.UnaryBinding(func(v ref.Val) ref.Val { return endOf(v, false) }))),
		cel.Function("geo_km", cel.Overload(ovGeoKm, []*cel.Type{d, d, d, d}, d, cel.FunctionBinding(geoKm))),
		cel.Function("hours_between", cel.Overload(ovHoursBetween, []*cel.Type{ts, ts}, d, cel.BinaryBinding(between(time.Hour)))),
		cel.Function("minutes_between", cel.Overload(ovMinutesBetween, []*cel.Type{ts, ts}, d, cel.BinaryBinding(between(time.Minute)))),
		cel.Function("seconds_between", cel.Overload(ovSecondsBetween, []*cel.Type{ts, ts}, d, cel.BinaryBinding(between(time.Second)))),
	}
}

// forEach calls fn for every element of a CEL list; it returns an error value when v is
// not a list or fn returns one.
func forEach(v ref.Val, fn func(elem ref.Val) ref.Val) ref.Val {
	l, ok := v.(traits.Lister)
	if !ok {
		return types.MaybeNoSuchOverloadErr(v)
	}
	it := l.Iterator()
	for it.HasNext() == types.True {
		if r := fn(it.Next()); r != nil {
			return r
		}
	}
	return nil
}

func number(v ref.Val) (float64, bool) {
	switch n := v.(type) {
	case types.Double:
		return float64(n), true
	case types.Int:
		return float64(n), true
	case types.Uint:
		return float64(n), true
	}
	return 0, false
}

func notNumber(v ref.Val) ref.Val {
	if types.IsUnknownOrError(v) {
		return v
	}
	return types.NewErr("expected a number, got %s", v.Type().TypeName())
}

// sumList is sum(list) -> double: the sum of a list of numbers (0.0 when empty).
func sumList(v ref.Val) ref.Val {
	var sum float64
	if err := forEach(v, func(e ref.Val) ref.Val {
		f, ok := number(e)
		if !ok {
			return notNumber(e)
		}
		sum += f
		return nil
	}); err != nil {
		return err
	}
	return types.Double(sum)
}

// avgList is avg(list) -> double: the mean of a non-empty list of numbers.
func avgList(v ref.Val) ref.Val {
	var sum float64
	n := 0
	if err := forEach(v, func(e ref.Val) ref.Val {
		f, ok := number(e)
		if !ok {
			return notNumber(e)
		}
		sum += f
		n++
		return nil
	}); err != nil {
		return err
	}
	if n == 0 {
		return types.NewErr("avg of an empty list")
	}
	return types.Double(sum / float64(n))
}

// extremum is min (sign -1) or max (sign 1) of a non-empty list of comparable values
// (numbers of any kind mixed, strings, timestamps, durations, bools).
func extremum(v ref.Val, sign types.Int) ref.Val {
	var best ref.Val
	if err := forEach(v, func(e ref.Val) ref.Val {
		if types.IsUnknownOrError(e) {
			return e
		}
		if f, ok := e.(types.Double); ok && math.IsNaN(float64(f)) {
			return types.NewErr("min/max of a list holding NaN")
		}
		if best == nil {
			if _, ok := e.(traits.Comparer); !ok {
				return types.NewErr("min/max of values that cannot be ordered (%s)", e.Type().TypeName())
			}
			best = e
			return nil
		}
		c := best.(traits.Comparer).Compare(e)
		ci, ok := c.(types.Int)
		if !ok {
			return types.MaybeNoSuchOverloadErr(c)
		}
		if ci == -sign {
			best = e
		}
		return nil
	}); err != nil {
		return err
	}
	if best == nil {
		if sign < 0 {
			return types.NewErr("min of an empty list")
		}
		return types.NewErr("max of an empty list")
	}
	return best
}

// countList is count(list) -> int.
func countList(v ref.Val) ref.Val {
	l, ok := v.(traits.Lister)
	if !ok {
		return types.MaybeNoSuchOverloadErr(v)
	}
	return l.Size()
}

// distinctKey normalises a scalar CEL value so that values CEL deems equal (1 == 1.0 ==
// 1u) share a key.
type distinctKey struct {
	kind uint8
	n    uint64
	s    string
}

func keyOf(v ref.Val) (distinctKey, bool) {
	switch x := v.(type) {
	case types.Bool:
		if x {
			return distinctKey{kind: 1, n: 1}, true
		}
		return distinctKey{kind: 1}, true
	case types.Int:
		return distinctKey{kind: 2, n: uint64(x)}, true
	case types.Uint:
		if x <= math.MaxInt64 {
			return distinctKey{kind: 2, n: uint64(x)}, true
		}
		return distinctKey{kind: 3, n: uint64(x)}, true
	case types.Double:
		f := float64(x)
		if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
			return distinctKey{kind: 2, n: uint64(int64(f))}, true
		}
		if f == math.Trunc(f) && f >= 0 && f < 1<<64 {
			return distinctKey{kind: 3, n: uint64(f)}, true
		}
		return distinctKey{kind: 4, n: math.Float64bits(f)}, !math.IsNaN(f)
	case types.String:
		return distinctKey{kind: 5, s: string(x)}, true
	case types.Timestamp:
		return distinctKey{kind: 6, n: uint64(x.UnixNano())}, true
	case types.Duration:
		return distinctKey{kind: 7, n: uint64(x.Duration)}, true
	}
	return distinctKey{}, false
}

// distinctList is distinct(list) -> int: the number of distinct values (CEL equality).
func distinctList(v ref.Val) ref.Val {
	seen := make(map[distinctKey]struct{})
	var others []ref.Val
	n := 0
	if err := forEach(v, func(e ref.Val) ref.Val {
		if types.IsUnknownOrError(e) {
			return e
		}
		if k, ok := keyOf(e); ok {
			if _, dup := seen[k]; !dup {
				seen[k] = struct{}{}
				n++
			}
			return nil
		}
		if f, ok := e.(types.Double); ok && math.IsNaN(float64(f)) {
			n++ // NaN equals nothing, not even itself
			return nil
		}
		for _, o := range others {
			if o.Equal(e) == types.True {
				return nil
			}
		}
		others = append(others, e)
		n++
		return nil
	}); err != nil {
		return err
	}
	return types.Int(n)
}

// endOf is first(list) / last(list); an empty list is an error.
func endOf(v ref.Val, first bool) ref.Val {
	l, ok := v.(traits.Lister)
	if !ok {
		return types.MaybeNoSuchOverloadErr(v)
	}
	n := l.Size().(types.Int)
	if n == 0 {
		if first {
			return types.NewErr("first of an empty list")
		}
		return types.NewErr("last of an empty list")
	}
	if first {
		return l.Get(types.Int(0))
	}
	return l.Get(n - 1)
}

// GeoKm is the great-circle distance in kilometres between two points given in degrees
// (haversine formula, Earth radius EarthRadiusKm).
func GeoKm(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * EarthRadiusKm * math.Asin(math.Min(1, math.Sqrt(a)))
}

func geoKm(args ...ref.Val) ref.Val {
	if len(args) != 4 {
		return types.NoSuchOverloadErr()
	}
	var f [4]float64
	for i, a := range args {
		x, ok := number(a)
		if !ok {
			return notNumber(a)
		}
		f[i] = x
	}
	return types.Double(GeoKm(f[0], f[1], f[2], f[3]))
}

// instant reads a timestamp; in the dynamic environment an int or double is taken as
// epoch milliseconds (the event-time convention of the conformance corpus).
func instant(v ref.Val) (int64, ref.Val) {
	switch t := v.(type) {
	case types.Timestamp:
		return t.UnixNano(), nil
	case types.Int:
		return int64(t) * int64(time.Millisecond), nil
	case types.Double:
		return int64(float64(t) * float64(time.Millisecond)), nil
	}
	if types.IsUnknownOrError(v) {
		return 0, v
	}
	return 0, types.NewErr("expected a timestamp, got %s", v.Type().TypeName())
}

// between returns t2 − t1 in the given unit as a double (negative when t2 is earlier).
func between(unit time.Duration) func(a, b ref.Val) ref.Val {
	return func(a, b ref.Val) ref.Val {
		t1, err := instant(a)
		if err != nil {
			return err
		}
		t2, err := instant(b)
		if err != nil {
			return err
		}
		return types.Double(betweenNanos(t1, t2, float64(unit)))
	}
}

// betweenNanos is t2 − t1 (Unix nanoseconds) in units of unit nanoseconds.
func betweenNanos(t1, t2 int64, unit float64) float64 {
	d := t2 - t1
	if (t2 > t1) != (d > 0) && t1 != t2 { // overflow
		return (float64(t2) - float64(t1)) / unit
	}
	return float64(d) / unit
}
