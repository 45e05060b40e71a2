package rules

import (
	"strings"
	"testing"

	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules/refdata"
)

func testData(t testing.TB, watch ...string) *refdata.Catalog {
	t.Helper()
	l, err := refdata.Parse("country_watch", refdata.KindWatch, []byte(strings.Join(watch, "\n")), refdata.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := refdata.Parse("mcc_risk", refdata.KindTable, []byte("mcc,tier,score:double\n5967,high,90\n5411,low,\n"), refdata.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return refdata.NewCatalog(l.WithVersion(3), tbl.WithVersion(1))
}

func dataEnv(t testing.TB, h *refdata.Holder, noClosures bool) *Env {
	t.Helper()
	env, err := NewEnv(testSchema(t), EnvOptions{Data: h, NoClosures: noClosures})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestInListReadsTheCurrentData: a condition reads the list the holder holds at each
// evaluation, so a reload changes its answer without recompiling it (closures and
// interpreter alike).
func TestInListReadsTheCurrentData(t *testing.T) {
	for _, interp := range []bool{false, true} {
		h := refdata.NewHolder(testData(t, "DE"))
		env := dataEnv(t, h, interp)
		ev := decode(t, env.Schema(), baseTxn) // country FR, mcc 5967
		for _, src := range []string{
			"in_list('country_watch', e.country)",
			"e.amount > 100.0 && in_list('country_watch', e.country)",
			"in_list('country_watch', 'FR')", // constant arguments are not folded
		} {
			c := compileCond(t, env, src)
			h.Store(testData(t, "DE"))
			if c.Eval(matchCtx(ev)) {
				t.Errorf("interp=%v %s: true before FR is listed", interp, src)
			}
			h.Store(testData(t, "DE", "FR"))
			if !c.Eval(matchCtx(ev)) {
				t.Errorf("interp=%v %s: false after FR is listed", interp, src)
			}
		}
	}
}

func TestRefAndLookup(t *testing.T) {
	h := refdata.NewHolder(testData(t))
	env := dataEnv(t, h, false)
	ev := decode(t, env.Schema(), baseTxn)
	for src, want := range map[string]bool{
		"ref('mcc_risk', e.mcc).tier == 'high'":                         true,
		"ref('mcc_risk', e.mcc).score > 50.0":                           true,
		"has(ref('mcc_risk', e.country).tier)":                          false,
		"lookup('mcc_risk', e.mcc, 'tier', 'unknown') == 'high'":        true,
		"lookup('mcc_risk', e.country, 'tier', 'unknown') == 'unknown'": true,
		"lookup('mcc_risk', '5411', 'score', 0.0) == 0.0":               true, // an empty cell is missing
		"lookup('mcc_risk', 5967, 'tier', '') == 'high'":                true, // ints look up as decimal text
		"in_list('mcc_risk', e.mcc)":                                    true, // a table's keys
	} {
		if got := compileCond(t, env, src).Eval(matchCtx(ev)); got != want {
			t.Errorf("%s = %v, want %v", src, got, want)
		}
	}
	got, err := evalConst(t, env, "ref('mcc_risk', '5967')")
	if m, ok := got.(map[string]any); err != nil || !ok || len(m) != 2 || m["tier"] != "high" || m["score"] != 90.0 {
		t.Fatalf("ref = %#v, %v", got, err)
	}
}

func TestDataCompileErrors(t *testing.T) {
	env := dataEnv(t, refdata.NewHolder(testData(t)), false)
	for src, want := range map[string]string{
		"in_list('country_wach', e.country)":              "where: in_list: unknown dataset 'country_wach' (lists and tables: country_watch, mcc_risk)",
		"in_list(e.country, e.country)":                   "where: in_list: the dataset must be a quoted name, as in in_list('merchant_watch', ...)",
		"ref('country_watch', e.country).x == 1":          "where: ref: 'country_watch' is a watch list, not a table: use in_list('country_watch', value)",
		"ref('nope', e.mcc).tier == 'high'":               "where: ref: unknown dataset 'nope' (tables: mcc_risk)",
		"lookup('mcc_risk', e.mcc, 'teir', '') == 'high'": "where: lookup: table 'mcc_risk' has no column 'teir' (columns: tier, score)",
	} {
		_, errs := env.compileExpr(src, patterns.Src{}, "r.yaml", roleWhere, nil)
		if len(errs) != 1 || errs[0].Msg != want {
			t.Errorf("%s:\n got %v\nwant %s", src, errs, want)
		}
	}
	// Without data every dataset is unknown.
	_, errs := testEnv(t).compileExpr("in_list('country_watch', e.country)", patterns.Src{}, "r.yaml", roleWhere, nil)
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "unknown dataset 'country_watch' (lists and tables: none)") {
		t.Errorf("no data: %v", errs)
	}
}

func TestRuleDataVersions(t *testing.T) {
	h := refdata.NewHolder(testData(t))
	env := dataEnv(t, h, false)
	c := compileRule(t, env, NewRegistry(), "r.yaml", `id: r
pattern:
  - name: a
    where: in_list('country_watch', e.country)
emit:
  tier: lookup('mcc_risk', e.mcc, 'tier', 'none')
`)
	if got := strings.Join(c.Data(), ","); got != "country_watch,mcc_risk" {
		t.Fatalf("Data() = %s", got)
	}
	vs := c.DataVersions()
	if len(vs) != 2 || vs[0].Version != 3 || vs[1].Version != 1 || vs[0].Digest == "" {
		t.Fatalf("versions %+v", vs)
	}
	h.Store(refdata.NewCatalog())
	if vs := c.DataVersions(); vs[0].Version != 0 || vs[0].Digest != "" {
		t.Fatalf("an unloaded dataset: %+v", vs)
	}
}
