package rules

import (
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"

	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/rules/refdata"
)

// dataCall compiles in_list(name, v) and lookup(name, key, column, default) with quoted
// dataset and column names. Like the bindings in data.go (which the interpreter runs),
// they read the datasets the environment's holder holds at each evaluation, so a reload
// changes their answer without a recompilation: an unloaded dataset or a column the
// loaded table lacks is an error, a key that is not a string, a number or a bool is no
// entry, and an error in any argument is the call's error (CEL's functions are strict).
func (c *closureCompiler) dataCall(fn string, call ast.CallExpr, args []ast.Expr) (evalFn, bool) {
	if call.IsMemberFunction() || len(args) == 0 {
		return nil, false
	}
	name, ok := literal(args[0]).(types.String)
	if !ok {
		return nil, false
	}
	h, ds := c.env.opts.Data, string(name)
	switch {
	case fn == inListFn && len(args) == 2:
		v, ok := c.valOf(args[1])
		if !ok {
			return nil, false
		}
		return func(x *nfa.EvalContext) cval {
			key := v(x)
			if key.k == kErr {
				return errVal
			}
			d, ok := h.Load().Get(ds)
			if !ok {
				return errVal
			}
			k, ok := dataKeyOf(key)
			return vBool(ok && d.Has(k))
		}, true
	case fn == "lookup" && len(args) == 4:
		col, ok := literal(args[2]).(types.String)
		if !ok {
			return nil, false
		}
		key, ok1 := c.valOf(args[1])
		def, ok2 := c.valOf(args[3])
		if !ok1 || !ok2 {
			return nil, false
		}
		return func(x *nfa.EvalContext) cval {
			k, dv := key(x), def(x)
			if k.k == kErr || dv.k == kErr {
				return errVal
			}
			d, ok := h.Load().Get(ds)
			if !ok {
				return errVal
			}
			i, ok := d.Column(string(col))
			if !ok {
				return errVal
			}
			ks, ok := dataKeyOf(k)
			if !ok {
				return dv
			}
			row, ok := d.Row(ks)
			if !ok || row[i] == nil {
				return dv
			}
			return cellVal(row[i])
		}, true
	}
	return nil, false
}

// dataKeyOf is dataKey for a closure value: the entry it is looked up as.
func dataKeyOf(v cval) (string, bool) {
	switch v.k {
	case kString:
		return v.s, true
	case kInt:
		return refdata.KeyString(v.i())
	case kDouble:
		return refdata.KeyString(v.f())
	case kBool:
		return refdata.KeyString(v.b())
	}
	return "", false // timestamps and durations are no entry, as in dataKey
}

// cellVal converts a table cell (string, int64, float64 or bool) as the interpreter's
// type adapter does.
func cellVal(c any) cval {
	switch x := c.(type) {
	case string:
		return vString(x)
	case int64:
		return vInt(x)
	case float64:
		return vDouble(x)
	case bool:
		return vBool(x)
	}
	return errVal
}
