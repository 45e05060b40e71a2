package rules

import (
	"math"
	"math/rand/v2"

	"github.com/cepd/cepd/event"
)

// exprGen generates random CEL conditions over the test schema's fields, mostly well
// typed, to compare the closure compiler with the interpreter.
type exprGen struct{ r *rand.Rand }

func (g *exprGen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *exprGen) intExpr(d int) string {
	if d <= 0 || g.r.IntN(3) == 0 {
		return g.pick("e.count", "e.count", "0", "1", "-1", "3", "7", "9223372036854775807", "-9223372036854775807", "size(e.country)", "int(e.amount)", "int(1e19)", "int(-2.5)")
	}
	switch g.r.IntN(4) {
	case 0:
		return "-" + g.intExpr(d-1)
	case 1:
		return "size(" + g.strExpr(d-1) + ")"
	}
	return "(" + g.intExpr(d-1) + " " + g.pick("+", "-", "*", "/", "%") + " " + g.intExpr(d-1) + ")"
}

func (g *exprGen) doubleExpr(d int) string {
	if d <= 0 || g.r.IntN(3) == 0 {
		return g.pick("e.amount", "e.amount", "e.lat", "0.0", "1.5", "-2.5", "250.5", "1e308", "(0.0/0.0)", "double(e.count)")
	}
	if g.r.IntN(4) == 0 {
		return "-" + g.doubleExpr(d-1)
	}
	return "(" + g.doubleExpr(d-1) + " " + g.pick("+", "-", "*", "/") + " " + g.doubleExpr(d-1) + ")"
}

func (g *exprGen) strExpr(d int) string {
	if d <= 0 || g.r.IntN(2) == 0 {
		return g.pick("e.country", "e.mcc", "e.device", "'FR'", "'US'", "''", "'é'", "'5967'", "'F'")
	}
	return "(" + g.strExpr(d-1) + " + " + g.strExpr(d-1) + ")"
}

func (g *exprGen) dynLit() string {
	return g.pick("7", "7.0", "'7'", "true", "0", "-1.5", "'FR'")
}

func (g *exprGen) cmp() string { return g.pick("==", "!=", "<", "<=", ">", ">=") }

func (g *exprGen) boolExpr(d int) string {
	if d <= 0 {
		return g.leaf()
	}
	switch g.r.IntN(9) {
	case 0, 1:
		return "(" + g.boolExpr(d-1) + " && " + g.boolExpr(d-1) + ")"
	case 2, 3:
		return "(" + g.boolExpr(d-1) + " || " + g.boolExpr(d-1) + ")"
	case 4:
		return "!" + g.boolExpr(d-1)
	case 5:
		return "(" + g.boolExpr(d-1) + " ? " + g.boolExpr(d-1) + " : " + g.boolExpr(d-1) + ")"
	case 6:
		return g.intExpr(d-1) + " " + g.cmp() + " " + g.intExpr(d-1)
	case 7:
		return g.doubleExpr(d-1) + " " + g.cmp() + " " + g.doubleExpr(d-1)
	}
	return "(" + g.boolExpr(d-1) + " " + g.pick("==", "!=") + " " + g.boolExpr(d-1) + ")"
}

func (g *exprGen) leaf() string {
	switch g.r.IntN(24) {
	case 22:
		return "geo_km(" + g.pick("first(match.a).lat", "e.lat", "1.5") + ", " + g.pick("e.lon", "last(match.b).lon", "e.amount") + ", " +
			g.pick("e.lat", "last(match.a).amount") + ", " + g.pick("e.lon", "first(match.a).lon", "(0.0/0.0)") + ") " + g.cmp() + " " + g.pick("500.0", "0.0", "e.amount")
	case 23:
		return g.pick("hours_between", "seconds_between") + "(" + g.pick("first(match.a).ts", "e.ts", "timestamp('0001-01-01T00:00:00Z')") + ", " +
			g.pick("e.ts", "last(match.b).ts", "timestamp('9999-12-31T23:59:59Z')") + ") " + g.cmp() + " " + g.pick("900.0 * hours_between(first(match.a).ts, e.ts)", "60.0 * hours_between(first(match.a).ts, e.ts)", "1.0", "e.amount")
	case 20:
		return g.pick("e.country", "e.amount", "e.count", "e.extra", "e.ts", "e.device") + " in " +
			g.pick("match.a", "match.b", "match['a']") + ".map(x, x." + g.pick("country", "amount", "count", "extra", "ts", "device") + ")"
	case 21:
		return g.pick("e.ts", "first(match.a).ts", "last(match.b).ts", "timestamp('2024-05-01T10:00:00Z')") + " - " +
			g.pick("last(match.a).ts", "first(match.b).ts", "e.ts", "timestamp('0001-01-01T00:00:00Z')", "timestamp('9999-12-31T23:59:59Z')") + " " + g.cmp() + " " +
			g.pick("duration('3m')", "duration('-1h')", "duration('0s')", "duration('1ns')")
	case 16, 17:
		return g.aggregate() + " " + g.cmp() + " " + g.pick("1.0", "3", "'FR'", "e.amount", "e.count", "e.extra")
	case 18:
		return g.pick("size(match.a)", "match.b.size()", "count(match['a'])") + " " + g.cmp() + " " + g.pick("0", "1", "2")
	case 19:
		return g.pick("match.a.exists(x, x.amount > 1.0)", "sum(match.a.map(x, x.amount)) + e.amount < 5.0",
			"match.a.all(x, x.country == e.country)", "size(match.a.filter(x, x.vip)) > 0")
	case 0:
		return "e.amount " + g.cmp() + " " + g.pick("100.0", "100", "250.5", "-1.0", "(0.0/0.0)", "9223372036854775807")
	case 1:
		return "e.count " + g.cmp() + " " + g.pick("3", "3.0", "2.5", "-1", "1e19")
	case 2:
		return g.pick("100.0", "3", "'FR'") + " " + g.cmp() + " " + g.pick("e.amount", "e.count", "e.country")
	case 3:
		return "e.country " + g.cmp() + " " + g.pick("'FR'", "'US'", "''", "e.mcc")
	case 4:
		return g.pick("e.mcc", "e.country", "e.count", "e.amount", "e.extra") + " in " +
			g.pick("['5967', '7995']", "['FR', 'US', 'DE', 'GB', 'ES', 'IT', 'NL', 'BE', 'PT', 'AT']", "[1, 3, 7]", "[1.5, 3.0]", "[7, 'x', true]", "[]", "[9007199254740993.0, 1e19]", "[9007199254740992, 3]", "[1+1, 3.0, 9007199254740993.0]", "[int(9007199254740993.0), double(9007199254740993)]", "[dyn(9007199254740993.0), 2]", "[timestamp('2024-05-01T10:00:00Z'), 'x']")
	case 5:
		return "has(e." + g.pick("device", "lat", "extra", "amount") + ")"
	case 6:
		return g.pick("e.vip", "!e.vip", "e.vip == true", "true", "false")
	case 7:
		return g.strExpr(1) + "." + g.pick("startsWith", "endsWith", "contains") + "(" + g.strExpr(1) + ")"
	case 8:
		return "e.extra " + g.cmp() + " " + g.dynLit()
	case 9:
		return g.dynLit() + " " + g.cmp() + " e.extra"
	case 10:
		return "e.ts " + g.cmp() + " " + g.pick("timestamp('2024-05-01T10:00:00Z')", "timestamp('2030-01-01T00:00:00Z')", "e.ts")
	case 11:
		return "e.extra " + g.cmp() + " " + g.pick("e.count", "e.amount", "e.country", "e.extra")
	case 12:
		return g.intExpr(2) + " " + g.cmp() + " " + g.intExpr(2)
	case 13:
		return g.doubleExpr(2) + " " + g.cmp() + " " + g.doubleExpr(1)
	case 14:
		return g.strExpr(2) + " " + g.cmp() + " " + g.strExpr(1)
	}
	return "e['" + g.pick("country", "device", "extra") + "'] == " + g.dynLit()
}

func (g *exprGen) aggregate() string {
	step := g.pick("match.a", "match.b", "match['a']")
	field := g.pick("amount", "count", "extra", "country", "lat", "vip", "ts")
	switch g.r.IntN(3) {
	case 0:
		return g.pick("sum", "avg", "min", "max") + "(" + step + ".map(x, x." + field + "))"
	case 1:
		return g.pick("first", "last") + "(" + step + ")." + field
	}
	return g.pick("sum", "max") + "(" + step + ".map(y, y." + field + "))"
}

// randomValues fills the test schema's fields with random values: usually of the
// declared type (always, when typed), sometimes missing when optional.
func randomEvent(r *rand.Rand, s *event.Schema, typed bool) *event.Event {
	vals := make([]event.Value, len(s.Fields))
	for i, f := range s.Fields {
		t := f.Type
		if !typed || t == event.TypeAny {
			if r.IntN(4) == 0 {
				t = event.Type(1 + r.IntN(5)) // any concrete type
			}
			if t == event.TypeAny {
				t = event.Type(1 + r.IntN(4))
			}
		}
		if (f.Optional || !typed || f.Type == event.TypeAny) && r.IntN(4) == 0 {
			if r.IntN(3) == 0 {
				vals[i] = event.Null() // the decoder never keeps a null; absent all the same
			}
			continue // missing
		}
		vals[i] = randomValue(r, t)
	}
	return (&event.Event{Schema: s}).SetValues(vals)
}

func randomValue(r *rand.Rand, t event.Type) event.Value {
	switch t {
	case event.TypeBool:
		return event.Bool(r.IntN(2) == 0)
	case event.TypeInt:
		return event.Int([]int64{0, 1, -1, 3, 7, math.MaxInt64, math.MinInt64, 1 << 53, 250, 1<<53 + 1, 2}[r.IntN(11)])
	case event.TypeDouble:
		return event.Double([]float64{0, 1.5, -2.5, 250.5, 100, 7, 3, math.NaN(), math.Inf(1), math.Inf(-1), 1e19, math.Copysign(0, -1), 1 << 53, 2}[r.IntN(14)])
	case event.TypeString:
		return event.String([]string{"", "FR", "US", "5967", "7995", "é", "F", "7", "FRU"}[r.IntN(9)])
	case event.TypeTimestamp:
		return event.TimestampNanos([]int64{0, 1714557600e9, 1714557600e9 + 1, math.MaxInt64, math.MinInt64}[r.IntN(5)])
	}
	return event.Value{}
}

// seedExprs are hand-written expressions for the fuzzers' corpora.
var seedExprs = []string{
	"e.amount > 100.0 && e.country != 'US' && e.mcc in ['5967','7995']",
	"has(e.device) && e.device.startsWith('ios')",
	"e.count / (e.count - 3) > 0",
	"e.extra == 7 || e.extra == 'x'",
	"!(e.amount <= 1.0) ? e.vip : e.count % 2 == 0",
	"e.ts >= timestamp('2024-05-01T10:00:00Z')",
	"-e.count < 0 && size(e.country) == 2",
	"e.amount * 2.0 > e.amount + 1.0",
	"e.lat > 48.0 || e.country in ['FR']",
	"e['country'] == 'FR'",
	"sum(match.a.map(x, x.amount)) > 1.0 && e.amount > 1.0",
	"min(match.b.map(x, x.count)) < max(match['a'].map(y, y.count))",
	"first(match.a).country == last(match.b).country || size(match.a) == 0",
	"avg(match.a.map(x, x.extra)) > 1.0 && match.b.exists(x, x.vip)",
	"(0.0/0.0) < e.amount || e.amount != (0.0/0.0)",
}
