package rules

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules/refdata"
)

// TestDataClosuresMatchInterpreter: in_list and lookup compiled to closures answer as the
// interpreter does (the truth value and whether an error is counted), on random events,
// while the holder is reloaded between evaluations with catalogs that change the lists'
// entries, drop a dataset, drop a column or change a column's type.
func TestDataClosuresMatchInterpreter(t *testing.T) {
	table := func(text string) *refdata.Dataset {
		d, err := refdata.Parse("mcc_risk", refdata.KindTable, []byte(text), refdata.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	list := func(entries string) *refdata.Dataset {
		d, err := refdata.Parse("country_watch", refdata.KindWatch, []byte(entries), refdata.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	full := table("mcc,tier,score:double,n:int,flag:bool\n5967,high,90,7,true\n5411,low,,2,\n3,mid,5.5,,false\ntrue,odd,1,1,true\n")
	catalogs := []*refdata.Catalog{
		refdata.NewCatalog(list("FR\nDE\n3\n250.5\nfalse"), full),
		refdata.NewCatalog(list("US"), table("mcc,tier,score:double,n:int,flag:bool\n5967,low,10,1,false\n")),
		refdata.NewCatalog(full),                                     // no list
		refdata.NewCatalog(list("FR"), table("mcc,level\n5967,x\n")), // no tier, score, n or flag
		refdata.NewCatalog(list("FR"), table("mcc,tier:int,score\n5967,3,high\n")),
		refdata.NewCatalog(),
	}
	h := refdata.NewHolder(catalogs[0])
	fast, ref := dataEnv(t, h, false), dataEnv(t, h, true)
	exprs := []string{
		"in_list('country_watch', e.country)",
		"in_list('country_watch', e.device)",
		"in_list('country_watch', e.count)",
		"in_list('country_watch', e.amount)",
		"in_list('country_watch', e.vip)",
		"in_list('country_watch', e.ts)",
		"in_list('mcc_risk', e.mcc)",
		"in_list('country_watch', 'FR')",
		"!in_list('country_watch', e.country) || e.amount > 100.0",
		"e.amount > 100.0 && in_list('country_watch', e.country)",
		"lookup('mcc_risk', e.mcc, 'tier', 'unknown') == 'high'",
		"lookup('mcc_risk', e.mcc, 'tier', 'unknown') == 'unknown'",
		"lookup('mcc_risk', e.mcc, 'score', 0.0) > 50.0",
		"lookup('mcc_risk', e.mcc, 'score', 1) == 1",
		"lookup('mcc_risk', e.count, 'tier', 'x') == 'mid'",
		"lookup('mcc_risk', e.vip, 'tier', 'x') == 'odd'",
		"lookup('mcc_risk', e.ts, 'tier', 'x') == 'x'",
		"lookup('mcc_risk', e.mcc, 'tier', e.device) == 'high'",
		"lookup('mcc_risk', e.device, 'tier', 'none') == 'none'",
		"lookup('mcc_risk', e.mcc, 'n', 0) > 3",
		"lookup('mcc_risk', e.mcc, 'flag', false)",
		"lookup('mcc_risk', e.mcc, 'flag', 'no') == 'no'",
		"e.type_missing_is_not_here == 1 || lookup('mcc_risk', e.mcc, 'tier', '') == 'low'",
	}
	type pair struct {
		src       string
		fast, ref *condition
	}
	var conds []pair
	for _, src := range exprs {
		x, errs := fast.compileExpr(src, patterns.Src{}, "", roleWhere, nil)
		if errs != nil {
			continue // reads a field the schema lacks: not a data question
		}
		if x.mode != modeClosure {
			t.Fatalf("%s: compiled in mode %v, want closures", src, x.mode)
		}
		conds = append(conds, pair{src, compileCond(t, fast, src), compileCond(t, ref, src)})
	}
	if len(conds) < len(exprs)-1 {
		t.Fatalf("only %d of %d expressions compiled", len(conds), len(exprs))
	}
	r := rand.New(rand.NewPCG(7, 8))
	mccs := []string{`"5967"`, `"5411"`, `"3"`, `"true"`, `"0"`}
	for i := range 3000 {
		if r.IntN(5) == 0 {
			h.Store(catalogs[r.IntN(len(catalogs))])
		}
		device := ""
		if r.IntN(2) == 0 {
			device = `,"device":"5967"`
		}
		js := fmt.Sprintf(`{"card_id":"c1","txn_id":"t%d","ts":"2024-05-01T10:00:00Z","amount":%s,"count":%d,"country":%q,"mcc":%s,"vip":%v%s}`,
			i, []string{"250.5", "3.0", "5967", "90"}[r.IntN(4)], r.IntN(5), []string{"FR", "US", "DE"}[r.IntN(3)],
			mccs[r.IntN(len(mccs))], r.IntN(2) == 0, device)
		ev := decode(t, fast.Schema(), js)
		for _, c := range conds {
			e0, e1 := c.fast.stats.errs.Load(), c.ref.stats.errs.Load()
			got, want := c.fast.Eval(matchCtx(ev)), c.ref.Eval(matchCtx(ev))
			gotErr, wantErr := c.fast.stats.errs.Load() != e0, c.ref.stats.errs.Load() != e1
			if got != want || gotErr != wantErr {
				t.Fatalf("%s on %s (catalog %v): closures %v (error %v), interpreter %v (error %v)",
					c.src, js, h.Load().Names(nil), got, gotErr, want, wantErr)
			}
		}
	}
}
