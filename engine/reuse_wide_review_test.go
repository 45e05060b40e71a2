package engine

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wideRules returns n variants of the test rules (ids v<i>-…, other windows), then tail:
// a rule set of more than maxSparse rules keeps one matcher slot a rule (dense), and the
// tail's rules sit at indexes past 64.
func wideRules(n int, tail ...string) []string {
	var out []string
	for i := range n {
		for j, src := range testRules {
			src = strings.Replace(src, "id: ", fmt.Sprintf("id: w%d-", i), 1)
			src = strings.Replace(src, "within: 20s", fmt.Sprintf("within: %ds", 5+i%7), 1)
			src = strings.Replace(src, "within: 30s", fmt.Sprintf("within: %ds", 7+i%5+j), 1)
			out = append(out, src)
		}
	}
	return append(out, tail...)
}

// wideSwaps are two sequences of rule sets that swap between dense (more than
// maxSparse rules) and sparse ones: the test rules and the velocity rules keep their
// matchers across every swap (equal fingerprints), at indexes below and past 64.
// narrow gives, for each, the set of the same phase holding only those rules.
func wideSwaps(t testing.TB, which int, narrow bool) []*RuleSet {
	t.Helper()
	t4 := slices.Clone(testRules)
	t4r := []string{testRules[2], testRules[0], testRules[3], testRules[1]}
	s3 := []string{testRules[1], testRules[3], testRules[0]}
	v7 := append(slices.Clone(velocityRules), testRules...)
	var phases [][2][]string // {wide, narrow}
	switch which {
	case 0:
		phases = [][2][]string{{wideRules(18, t4r...), t4r}, {s3, s3}, {wideRules(30, v7...), v7}, {v7, v7}, {wideRules(18, t4r...), t4r}}
	default:
		phases = [][2][]string{{v7, v7}, {wideRules(30, v7...), v7}, {t4, t4}, {wideRules(17, s3...), s3}, {wideRules(40, t4...), t4}}
	}
	var out []*RuleSet
	for _, p := range phases {
		src := p[0]
		if narrow {
			src = p[1]
		}
		out = append(out, testRulesOf(t, src...))
	}
	return out
}

// wideScenario is the i-th random scenario of the wide tests (no engine budget: which
// keys it cuts depends on every rule's use, so the narrow sets would cut others).
func wideScenario(i int) reuseScenario {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	return reuseScenario{seed: uint64(300 + i), ooo: time.Duration(500+r.IntN(4000)) * time.Millisecond,
		maxJournal: []int{0, 1, 3}[r.IntN(3)], late: []LatePolicy{LateProcess, LateDrop}[r.IntN(2)],
		restores: r.IntN(3) != 0, runs: []int{0, 2, 5}[r.IntN(3)], keys: 3 + r.IntN(30)}
}

// alertsOf returns the alerts (JSON lines of reuseRunWith's output) of rules whose id
// has no "w" variant prefix, sorted.
func alertsOf(out []string) []string {
	var got []string
	for _, line := range out {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var a struct {
			RuleID string `json:"rule_id"`
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil || strings.HasPrefix(a.RuleID, "w") {
			continue
		}
		got = append(got, line)
	}
	slices.Sort(got)
	return got
}

// TestWideRuleSetsMatchNarrow: rules of a set of more than 64 rules (one matcher slot a
// rule), at indexes past 64, alert as they do in a set of only themselves (sparse
// slots), across swaps between wide and narrow sets (matchers rebound between the two
// layouts), out-of-order re-matches, checkpoints and restores.
func TestWideRuleSetsMatchNarrow(t *testing.T) {
	n := 4
	if testing.Short() {
		n = 2
	}
	for i := range n {
		sc := wideScenario(i)
		wide := alertsOf(reuseRunWith(t, sc, wideSwaps(t, i%2, false), nil))
		narrow := alertsOf(reuseRunWith(t, sc, wideSwaps(t, i%2, true), nil))
		if len(narrow) == 0 {
			t.Fatalf("scenario %d: no alerts", i)
		}
		if !slices.Equal(wide, narrow) {
			t.Errorf("scenario %d (%+v): %d alerts of the wide sets' shared rules, %d of the narrow sets'", i, sc, len(wide), len(narrow))
			for j := range min(len(wide), len(narrow)) {
				if wide[j] != narrow[j] {
					t.Fatalf("first difference:\n wide   %s\n narrow %s", wide[j], narrow[j])
				}
			}
		}
	}
}

// TestReuseWideDump is TestReuseScenarioDump over wideSwaps' sets ($REUSE_SEEDS
// scenarios, default 20, to $REUSE_DIFF_OUT/wide-<i>): copy this file with
// reuse_review_test.go into the other tree.
func TestReuseWideDump(t *testing.T) {
	dir := os.Getenv("REUSE_DIFF_OUT")
	if dir == "" {
		t.Skip("REUSE_DIFF_OUT not set")
	}
	n := 20
	if v, _ := strconv.Atoi(os.Getenv("REUSE_SEEDS")); v > 0 {
		n = v
	}
	for i := range n {
		sc := wideScenario(i)
		if i%3 == 0 {
			sc.memBudget = []int64{32 << 10, 128 << 10}[i%2]
		}
		out := reuseRunWith(t, sc, wideSwaps(t, i%2, false), nil)
		if err := os.WriteFile(fmt.Sprintf("%s/wide-%d", dir, i), []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
