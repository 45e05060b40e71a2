package rules

import (
	"fmt"
	"reflect"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/cepd/cepd/event"
)

// eventTypeName is the CEL object type of `e` in a typed environment.
const eventTypeName = "cepd.Event"

// eventObjectType is the CEL type of a typed event. It is an immutable value.
var eventObjectType = types.NewObjectType(eventTypeName)

// valueToCEL converts a present field value to its CEL value. Missing and null values
// have no CEL value (ok false): CEL sees the field as absent.
func valueToCEL(v event.Value) (ref.Val, bool) {
	switch v.Kind {
	case event.KindBool:
		return types.Bool(v.AsBool()), true
	case event.KindInt:
		return types.Int(v.AsInt()), true
	case event.KindDouble:
		return types.Double(v.AsDouble()), true
	case event.KindString:
		return types.String(v.AsString()), true
	case event.KindTimestamp:
		return types.Timestamp{Time: time.Unix(0, v.AsTimeNanos()).UTC()}, true
	}
	return nil, false
}

// fieldValue returns the value of the named field of ev, honouring only present values.
func fieldValue(ev *event.Event, name string) (event.Value, bool) {
	i, ok := ev.Schema.Index(name)
	if !ok {
		return event.Value{}, false
	}
	v := ev.Value(i)
	return v, v.Kind > event.KindNull
}

func noSuchField(name string) ref.Val {
	return types.NewErr("no such key: %s", name)
}

// eventsEqual compares two events by content: the same present fields with equal values.
func eventsEqual(a, b *event.Event) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	count := 0
	for i := range a.Len() {
		v := a.Value(i)
		if v.Kind <= event.KindNull {
			continue
		}
		count++
		w, ok := fieldValue(b, a.Schema.Fields[i].Name)
		if !ok {
			return false
		}
		x, _ := valueToCEL(v)
		y, _ := valueToCEL(w)
		if x.Equal(y) != types.True {
			return false
		}
	}
	for i := range b.Len() {
		if b.Value(i).Kind > event.KindNull {
			count--
		}
	}
	return count == 0
}

// typedEvent is an event seen through a typed environment: a CEL object whose fields are
// the schema's. It is pointer-shaped, so storing it in an interface does not allocate.
type typedEvent struct{ ev *event.Event }

var (
	_ ref.Val            = typedEvent{}
	_ traits.Indexer     = typedEvent{}
	_ traits.FieldTester = typedEvent{}
	_ traits.Mapper      = dynEvent{}
)

func (t typedEvent) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return convertEventToNative(t.ev, typeDesc)
}

func (t typedEvent) ConvertToType(typeVal ref.Type) ref.Val {
	switch typeVal {
	case types.TypeType:
		return eventObjectType
	}
	if typeVal.TypeName() == eventTypeName {
		return t
	}
	return types.NewErr("type conversion error from '%s' to '%s'", eventTypeName, typeVal)
}

func (t typedEvent) Equal(other ref.Val) ref.Val {
	o, ok := other.(typedEvent)
	return types.Bool(ok && eventsEqual(t.ev, o.ev))
}

func (t typedEvent) Type() ref.Type { return eventObjectType }
func (t typedEvent) Value() any     { return t.ev }

// Get implements traits.Indexer (field access by name).
func (t typedEvent) Get(key ref.Val) ref.Val {
	name, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key)
	}
	v, ok := fieldValue(t.ev, string(name))
	if !ok {
		return noSuchField(string(name))
	}
	cv, _ := valueToCEL(v)
	return cv
}

// IsSet implements traits.FieldTester (has()).
func (t typedEvent) IsSet(field ref.Val) ref.Val {
	name, ok := field.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(field)
	}
	_, ok = fieldValue(t.ev, string(name))
	return types.Bool(ok)
}

// dynEvent is an event seen through the dynamic environment: a map(string, dyn) of its
// present fields.
type dynEvent struct{ ev *event.Event }

func (d dynEvent) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return convertEventToNative(d.ev, typeDesc)
}

func (d dynEvent) ConvertToType(typeVal ref.Type) ref.Val {
	return convertToType(d, types.MapType, typeVal)
}

func (d dynEvent) Equal(other ref.Val) ref.Val {
	switch o := other.(type) {
	case dynEvent:
		return types.Bool(eventsEqual(d.ev, o.ev))
	case traits.Mapper:
		if o.Size() != d.Size() {
			return types.False
		}
		it := o.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			v, found := d.Find(k)
			if !found {
				return types.False
			}
			ov, _ := o.Find(k)
			if eq := v.Equal(ov); eq != types.True {
				return types.False
			}
		}
		return types.True
	}
	return types.False
}

func (d dynEvent) Type() ref.Type { return types.MapType }
func (d dynEvent) Value() any     { return d.ev }

func (d dynEvent) Contains(key ref.Val) ref.Val {
	v, found := d.Find(key)
	if !found && v != nil {
		return v
	}
	return types.Bool(found)
}

func (d dynEvent) Get(key ref.Val) ref.Val {
	v, found := d.Find(key)
	if !found {
		if v != nil {
			return v
		}
		return types.NewErr("no such key: %v", key)
	}
	return v
}

func (d dynEvent) Find(key ref.Val) (ref.Val, bool) {
	name, ok := key.(types.String)
	if !ok {
		if types.IsUnknownOrError(key) {
			return key, false
		}
		return nil, false
	}
	v, ok := fieldValue(d.ev, string(name))
	if !ok {
		return nil, false
	}
	return valueToCELMust(v), true
}

func valueToCELMust(v event.Value) ref.Val {
	cv, _ := valueToCEL(v)
	return cv
}

func (d dynEvent) Size() ref.Val {
	n := 0
	for i := range d.ev.Len() {
		if d.ev.Value(i).Kind > event.KindNull {
			n++
		}
	}
	return types.Int(n)
}

func (d dynEvent) Iterator() traits.Iterator {
	return &fieldIterator{ev: d.ev}
}

// fieldIterator iterates over the names of an event's present fields.
type fieldIterator struct {
	iteratorVal
	ev *event.Event
	i  int
}

func (it *fieldIterator) HasNext() ref.Val {
	for it.i < it.ev.Len() && it.ev.Value(it.i).Kind <= event.KindNull {
		it.i++
	}
	return types.Bool(it.i < it.ev.Len())
}

func (it *fieldIterator) Next() ref.Val {
	if it.HasNext() != types.True {
		return nil
	}
	name := it.ev.Schema.Fields[it.i].Name
	it.i++
	return types.String(name)
}

// iteratorVal is the ref.Val half of a CEL iterator (traits.Iterator): an iterator is
// never converted or compared. listIterator and fieldIterator embed it.
type iteratorVal struct{}

func (iteratorVal) ConvertToNative(reflect.Type) (any, error) {
	return nil, fmt.Errorf("type conversion on iterators not supported")
}
func (iteratorVal) ConvertToType(ref.Type) ref.Val { return types.NewErr("no such overload") }
func (iteratorVal) Equal(ref.Val) ref.Val          { return types.NewErr("no such overload") }
func (iteratorVal) Type() ref.Type                 { return types.IteratorType }
func (iteratorVal) Value() any                     { return nil }

var (
	mapStringAnyType = reflect.TypeFor[map[string]any]()
	anyType          = reflect.TypeFor[any]()
)

func convertEventToNative(ev *event.Event, typeDesc reflect.Type) (any, error) {
	switch typeDesc {
	case mapStringAnyType, anyType:
		return ev.Fields(), nil
	case reflect.TypeFor[*event.Event]():
		return ev, nil
	}
	return nil, fmt.Errorf("type conversion error from event to '%v'", typeDesc)
}
