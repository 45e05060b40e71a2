package rules

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/rules/refdata"
)

// EnvOptions tune an Env. The zero value gives the defaults.
type EnvOptions struct {
	// MaxMatchEvents is how many events the cost estimator assumes a step of `match` may
	// hold (0 = DefaultMaxMatchEvents).
	MaxMatchEvents int
	// MaxStringSize is the length the cost estimator assumes for string fields
	// (0 = DefaultMaxStringSize).
	MaxStringSize int
	// CostLimit is the ceiling on an expression's estimated worst-case cost: an expression
	// above it is rejected at compile time (0 = DefaultCostLimit).
	CostLimit uint64
	// RuntimeCostLimit stops the evaluation of an interpreted expression with
	// comprehensions once its actual cost passes it; the evaluation is then an error
	// (0 = CostLimit).
	RuntimeCostLimit uint64
	// NoClosures evaluates every expression with the CEL interpreter (for comparison and
	// debugging; conditions are then several times slower).
	NoClosures bool
	// NoGuards gives conditions no event-only guard, so the matcher visits every partial
	// match for every event (the reference path guarded matching is tested against).
	NoGuards bool
	// Data holds the lists and reference tables that in_list, ref and lookup read (nil:
	// none). Rules are checked against what it holds when they compile; at run time each
	// call reads what it holds then, so a reload of the data needs no recompilation.
	Data *refdata.Holder
}

// Defaults of EnvOptions.
const (
	DefaultMaxMatchEvents = 1000
	DefaultMaxStringSize  = event.DefaultMaxString // what the decoder lets through
	DefaultCostLimit      = 100000
)

func (o EnvOptions) withDefaults() EnvOptions {
	if o.MaxMatchEvents <= 0 {
		o.MaxMatchEvents = DefaultMaxMatchEvents
	}
	if o.MaxStringSize <= 0 {
		o.MaxStringSize = DefaultMaxStringSize
	}
	if o.CostLimit == 0 {
		o.CostLimit = DefaultCostLimit
	}
	if o.RuntimeCostLimit == 0 {
		o.RuntimeCostLimit = o.CostLimit
	}
	return o
}

// Env is the CEL environment rules are compiled in: `e` (the current event), `match`
// (the events of the partial match, per step) and the analysts' helper functions. It is
// immutable and safe for concurrent use.
type Env struct {
	schema  *event.Schema // nil for the dynamic environment
	dynamic bool
	opts    EnvOptions
	cel     *cel.Env
	est     *costEstimator
	acts    *activationPool
	// key identifies the environment's meaning (schema and options) for Registry.
	key string
}

// NewEnv returns the environment for events of schema: `e` is a `cepd.Event` object whose
// fields have the schema's types (timestamps are google.protobuf.Timestamp, fields of type
// any are dyn), and `match` is a map(string, list(cepd.Event)).
func NewEnv(schema *event.Schema, opts EnvOptions) (*Env, error) {
	if schema == nil {
		return nil, errors.New("rules: NewEnv needs a schema (use NewDynamicEnv for schema-less events)")
	}
	opts = opts.withDefaults()
	reg, err := types.NewRegistry()
	if err != nil {
		return nil, fmt.Errorf("rules: CEL type registry: %w", err)
	}
	prov, err := newEventProvider(reg, schema)
	if err != nil {
		return nil, err
	}
	env := &Env{schema: schema, opts: opts, acts: newActivationPool(false)}
	ev := cel.ObjectType(eventTypeName)
	ce, err := cel.NewEnv(append([]cel.EnvOption{
		cel.CustomTypeAdapter(reg),
		cel.CustomTypeProvider(prov),
		cel.Variable("e", ev),
		cel.Variable("match", cel.MapType(cel.StringType, cel.ListType(ev))),
		cel.Variable("agg", cel.MapType(cel.StringType, cel.DynType)),
	}, env.commonOptions()...)...)
	if err != nil {
		return nil, fmt.Errorf("rules: CEL environment for schema %s: %w", schema.Name, err)
	}
	env.cel = ce
	env.key = fmt.Sprintf("typed\x00%s\x00%+v", schema.String(), opts)
	return env, nil
}

// NewDynamicEnv returns the schema-less environment (the conformance corpus): `e` is a
// map(string, dyn) of the event's present fields (has(e.f) tests presence) and `match` a
// map(string, list(map(string, dyn))). At most one EnvOptions may be given.
func NewDynamicEnv(opts ...EnvOptions) (*Env, error) {
	var o EnvOptions
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		return nil, errors.New("rules: NewDynamicEnv takes at most one EnvOptions")
	}
	o = o.withDefaults()
	env := &Env{dynamic: true, opts: o, acts: newActivationPool(true)}
	dynMap := cel.MapType(cel.StringType, cel.DynType)
	ce, err := cel.NewEnv(append([]cel.EnvOption{
		cel.Variable("e", dynMap),
		cel.Variable("match", cel.MapType(cel.StringType, cel.ListType(dynMap))),
		cel.Variable("agg", cel.MapType(cel.StringType, cel.DynType)),
	}, env.commonOptions()...)...)
	if err != nil {
		return nil, fmt.Errorf("rules: dynamic CEL environment: %w", err)
	}
	env.cel = ce
	env.key = fmt.Sprintf("dynamic\x00%+v", o)
	return env, nil
}

func (env *Env) commonOptions() []cel.EnvOption {
	env.est = &costEstimator{
		maxMatch: uint64(env.opts.MaxMatchEvents),
		maxStr:   uint64(env.opts.MaxStringSize),
		fields:   64,
	}
	if env.schema != nil {
		env.est.fields = uint64(len(env.schema.Fields))
	}
	return []cel.EnvOption{
		cel.CrossTypeNumericComparisons(true),
		cel.DefaultUTCTimeZone(true),
		helperLibrary(),
		dataLibrary(env.opts.Data),
	}
}

// Schema returns the environment's schema (nil for the dynamic environment).
func (env *Env) Schema() *event.Schema { return env.schema }

// Dynamic reports whether this is the schema-less environment.
func (env *Env) Dynamic() bool { return env.dynamic }

// Options returns the options in effect (defaults filled in).
func (env *Env) Options() EnvOptions { return env.opts }

// CEL returns the underlying cel-go environment (for tools such as a REPL).
func (env *Env) CEL() *cel.Env { return env.cel }

// eventProvider declares the typed event object to the CEL type checker and gives the
// interpreter direct field access. Everything else goes to the default registry.
type eventProvider struct {
	types.Provider
	fields map[string]*types.FieldType
	names  []string
}

func newEventProvider(base types.Provider, s *event.Schema) (*eventProvider, error) {
	p := &eventProvider{Provider: base, fields: make(map[string]*types.FieldType, len(s.Fields))}
	for i, f := range s.Fields {
		t, err := celType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("rules: schema %s: field %q: %w", s.Name, f.Name, err)
		}
		p.fields[f.Name] = &types.FieldType{
			Type:    t,
			IsSet:   fieldTester(s, i, f.Name),
			GetFrom: fieldGetter(s, i, f.Name),
		}
		p.names = append(p.names, f.Name)
	}
	sort.Strings(p.names)
	return p, nil
}

// celTypes are the CEL types of the schema's field types.
var celTypes = map[event.Type]*types.Type{
	event.TypeBool:      types.BoolType,
	event.TypeInt:       types.IntType,
	event.TypeDouble:    types.DoubleType,
	event.TypeString:    types.StringType,
	event.TypeTimestamp: types.TimestampType,
	event.TypeAny:       types.DynType,
}

func celType(t event.Type) (*types.Type, error) {
	if ct, ok := celTypes[t]; ok {
		return ct, nil
	}
	return nil, fmt.Errorf("type %s has no CEL equivalent", t)
}

// lookup returns the field's value, by the precomputed index when ev has the
// environment's schema.
func lookup(ev *event.Event, s *event.Schema, idx int, name string) (event.Value, bool) {
	if ev.Schema == s {
		v := ev.Value(idx)
		return v, v.Kind > event.KindNull
	}
	return fieldValue(ev, name)
}

func asEvent(obj any) *event.Event {
	switch o := obj.(type) {
	case *event.Event:
		return o
	case typedEvent:
		return o.ev
	case dynEvent:
		return o.ev
	}
	return nil
}

func fieldTester(s *event.Schema, idx int, name string) ref.FieldTester {
	return func(obj any) bool {
		ev := asEvent(obj)
		if ev == nil {
			return false
		}
		_, ok := lookup(ev, s, idx, name)
		return ok
	}
}

func fieldGetter(s *event.Schema, idx int, name string) ref.FieldGetter {
	return func(obj any) (any, error) {
		ev := asEvent(obj)
		if ev == nil {
			return nil, fmt.Errorf("no such key: %s", name)
		}
		v, ok := lookup(ev, s, idx, name)
		if !ok {
			return nil, fmt.Errorf("no such key: %s", name)
		}
		cv, _ := valueToCEL(v)
		return cv, nil
	}
}

// FindStructType implements types.Provider.
func (p *eventProvider) FindStructType(structType string) (*types.Type, bool) {
	if structType == eventTypeName {
		return types.NewTypeTypeWithParam(eventObjectType), true
	}
	return p.Provider.FindStructType(structType)
}

// FindStructFieldNames implements types.Provider.
func (p *eventProvider) FindStructFieldNames(structType string) ([]string, bool) {
	if structType == eventTypeName {
		return p.names, true
	}
	return p.Provider.FindStructFieldNames(structType)
}

// FindStructFieldType implements types.Provider.
func (p *eventProvider) FindStructFieldType(structType, fieldName string) (*types.FieldType, bool) {
	if structType == eventTypeName {
		ft, ok := p.fields[fieldName]
		return ft, ok
	}
	return p.Provider.FindStructFieldType(structType, fieldName)
}

// NewValue implements types.Provider: events cannot be constructed in CEL.
func (p *eventProvider) NewValue(structType string, fields map[string]ref.Val) ref.Val {
	if structType == eventTypeName {
		return types.NewErr("events cannot be constructed in an expression")
	}
	return p.Provider.NewValue(structType, fields)
}

// fieldNamesHint lists the schema's fields for "unknown field" messages.
func (env *Env) fieldNamesHint() string {
	if env.schema == nil {
		return ""
	}
	return strings.Join(env.schema.FieldNames(), ", ")
}
