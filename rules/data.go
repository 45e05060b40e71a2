package rules

import (
	"fmt"
	"sort"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/parser"

	"github.com/cepd/cepd/rules/refdata"
)

// Overload ids of the reference-data functions.
const (
	ovInList = "cepd_in_list"
	ovRef    = "cepd_ref"
	ovLookup = "cepd_lookup"
)

// inListFn is the function in_list(...) expands to. cel-go's dispatcher keeps function
// names and overload ids in one namespace, and "in_list" is the overload id of the `in`
// operator on lists: a function of that name would replace it. So in_list is a macro.
const inListFn = "cepd.in_list"

// dataFuncs are the functions that read reference data, by the name their calls carry,
// with the name analysts write; their first argument names the dataset and must be a
// quoted name, so that a rule's datasets are known when it compiles.
var dataFuncs = map[string]string{inListFn: "in_list", "ref": "ref", "lookup": "lookup"}

// dataLibrary declares in_list, ref and lookup, reading the datasets h holds at the time
// of each call (a reload swaps them without recompiling rules). h may be nil: every
// dataset is then unknown.
func dataLibrary(h *refdata.Holder) cel.EnvOption {
	return cel.Lib(dataLib{h})
}

type dataLib struct{ h *refdata.Holder }

func (dataLib) LibraryName() string                 { return "cepd.refdata" }
func (dataLib) ProgramOptions() []cel.ProgramOption { return nil }

func (l dataLib) CompileOptions() []cel.EnvOption {
	s, dyn := cel.StringType, cel.DynType
	return []cel.EnvOption{
		cel.Macros(cel.GlobalMacro("in_list", 2, func(eh parser.ExprHelper, _ ast.Expr, args []ast.Expr) (ast.Expr, *common.Error) {
			return eh.NewCall(inListFn, args...), nil
		})),
		cel.Function(inListFn, cel.Overload(ovInList, []*cel.Type{s, dyn}, cel.BoolType, cel.BinaryBinding(l.inList))),
		cel.Function("ref", cel.Overload(ovRef, []*cel.Type{s, dyn}, cel.MapType(s, dyn), cel.BinaryBinding(l.ref))),
		cel.Function("lookup", cel.Overload(ovLookup, []*cel.Type{s, dyn, s, dyn}, dyn, cel.FunctionBinding(l.lookup))),
	}
}

func (l dataLib) dataset(name ref.Val) (*refdata.Dataset, ref.Val) {
	n, ok := name.(types.String)
	if !ok {
		return nil, types.MaybeNoSuchOverloadErr(name)
	}
	d, ok := l.h.Load().Get(string(n))
	if !ok {
		return nil, types.NewErr("dataset %q is not loaded", string(n))
	}
	return d, nil
}

func dataKey(v ref.Val) (string, bool) {
	if v == nil || v.Type() == types.NullType {
		return "", false
	}
	return refdata.KeyString(v.Value())
}

func (l dataLib) inList(name, v ref.Val) ref.Val {
	d, errv := l.dataset(name)
	if errv != nil {
		return errv
	}
	k, ok := dataKey(v)
	return types.Bool(ok && d.Has(k))
}

func (l dataLib) ref(name, key ref.Val) ref.Val {
	d, errv := l.dataset(name)
	if errv != nil {
		return errv
	}
	m := map[string]any{}
	if k, ok := dataKey(key); ok {
		if row, ok := d.Row(k); ok {
			for i, c := range d.Columns {
				if row[i] != nil {
					m[c.Name] = row[i]
				}
			}
		}
	}
	return types.DefaultTypeAdapter.NativeToValue(m)
}

func (l dataLib) lookup(args ...ref.Val) ref.Val {
	if len(args) != 4 {
		return types.NewErr("lookup takes 4 arguments")
	}
	d, errv := l.dataset(args[0])
	if errv != nil {
		return errv
	}
	col, ok := args[2].(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(args[2])
	}
	i, ok := d.Column(string(col))
	if !ok {
		return types.NewErr("table %q has no column %q", d.Name, string(col))
	}
	k, ok := dataKey(args[1])
	if !ok {
		return args[3]
	}
	row, ok := d.Row(k)
	if !ok || row[i] == nil {
		return args[3]
	}
	return types.DefaultTypeAdapter.NativeToValue(row[i])
}

// checkData checks every call of a data function in a: the dataset is a quoted name of a
// dataset the environment holds, of the right kind (ref and lookup need a table), and
// lookup's column is a quoted column of it. It returns the datasets named, sorted.
func (env *Env) checkData(a *ast.AST, report func(id int64, msg string)) []string {
	cat := env.opts.Data.Load()
	seen := map[string]bool{}
	visit(a.Expr(), func(e ast.Expr) {
		if e.Kind() != ast.CallKind {
			return
		}
		call := e.AsCall()
		fn, ok := dataFuncs[call.FunctionName()]
		if !ok || call.IsMemberFunction() || len(call.Args()) == 0 {
			return
		}
		arg := call.Args()[0]
		lit := literal(arg)
		name, ok := lit.(types.String)
		if !ok {
			report(arg.ID(), fmt.Sprintf("%s: the dataset must be a quoted name, as in %s('merchant_watch', ...)", fn, fn))
			return
		}
		d, ok := cat.Get(string(name))
		switch {
		case !ok:
			kinds := "lists and tables"
			if fn != "in_list" {
				kinds = "tables"
			}
			known := cat.Names(func(d *refdata.Dataset) bool { return fn == "in_list" || d.Kind == refdata.KindTable })
			have := "none"
			if len(known) > 0 {
				have = strings.Join(known, ", ")
			}
			report(arg.ID(), fmt.Sprintf("%s: unknown dataset '%s' (%s: %s)", fn, name, kinds, have))
			return
		case fn != "in_list" && d.Kind != refdata.KindTable:
			report(arg.ID(), fmt.Sprintf("%s: '%s' is a %s list, not a table: use in_list('%s', value)", fn, name, d.Kind, name))
			return
		}
		seen[string(name)] = true
		if fn == "lookup" && len(call.Args()) == 4 {
			colArg := call.Args()[2]
			col, ok := literal(colArg).(types.String)
			if !ok {
				report(colArg.ID(), "lookup: the column must be a quoted name")
				return
			}
			if _, ok := d.Column(string(col)); !ok {
				names := make([]string, len(d.Columns))
				for i, c := range d.Columns {
					names[i] = c.Name
				}
				report(colArg.ID(), fmt.Sprintf("lookup: table '%s' has no column '%s' (columns: %s)", name, col, strings.Join(names, ", ")))
			}
		}
	})
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// DataRef says which version of a dataset a rule saw.
type DataRef struct {
	Name    string
	Version int
	Digest  string
}

// Data returns the datasets the rule's expressions read, sorted by name.
func (c *Compiled) Data() []string { return c.data }

// DataVersions returns the version and digest of each dataset the rule reads, as the
// environment holds them now (an alert made now saw these). A dataset no longer loaded
// has version 0 and no digest.
func (c *Compiled) DataVersions() []DataRef {
	if len(c.data) == 0 {
		return nil
	}
	cat := c.env.opts.Data.Load()
	out := make([]DataRef, len(c.data))
	for i, n := range c.data {
		out[i].Name = n
		if d, ok := cat.Get(n); ok {
			out[i].Version, out[i].Digest = d.Version, d.Digest
		}
	}
	return out
}

func mergeNames(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range append(append([]string{}, a...), b...) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
