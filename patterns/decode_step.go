package patterns

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// stepKeys are the keys of a step, in the order Format writes them.
var stepKeys = []string{"name", "contiguity", "not", "where", "times", "optional", "greedy",
	"repeat", "repeat_within", "until", "gap", "steps"}

var contiguities = map[string]int{
	"strict": int(Strict), "relaxed": int(Relaxed), "any": int(Any),
	"next": int(Strict), "followed_by": int(Relaxed), "followed_by_any": int(Any),
}

var repeatContiguities = map[string]int{
	"strict": int(Strict), "relaxed": int(Relaxed), "any": int(Any),
	"consecutive": int(Strict), "allow_combinations": int(Any),
}

var negations = map[string]int{"next": int(NotNext), "followed_by": int(NotFollowedBy)}

// MaxTimes bounds the numbers of a quantifier (times: N, N..M, N+).
const MaxTimes = 1000

// steps decodes a list of steps (the pattern, or a group's steps).
func (d *decoder) steps(f field, obj any) []*Step {
	if f.val.Kind != yaml.SequenceNode {
		d.errorf(f.val, "'%s' must be a list of steps (lines starting with '- '), not %s", f.key.Value, kindName(f.val))
		d.markBad(obj, f.key.Value)
		return nil
	}
	steps := []*Step{}
	for _, n := range f.val.Content {
		if s := d.step(n); s != nil {
			steps = append(steps, s)
		}
	}
	return steps
}

// step decodes one step mapping.
func (d *decoder) step(n *yaml.Node) *Step {
	s := &Step{Pos: nodePos(n)}
	f := d.fields(n, "step", s, stepKeys)
	if f == nil {
		return nil
	}
	s.Name, _ = d.text(f["name"], s, "a name")
	if c, ok := d.word(f["contiguity"], s, "contiguity", contiguities, []string{"strict", "relaxed", "any"}); ok {
		s.Contiguity = Contiguity(c)
	}
	if neg, ok := d.word(f["not"], s, "negation", negations, []string{"next", "followed_by"}); ok {
		s.Negation = Negation(neg)
	}
	s.Where, s.WhereSrc = d.expr(f["where"], s)
	s.Quantifier = d.quantifier(f, s)
	s.Until, s.UntilSrc = d.expr(f["until"], s)
	s.WithinMs = d.duration(f["gap"], s)
	if g, ok := f["steps"]; ok {
		s.Group = []*Step{}
		if !isNull(g.val) {
			s.Group = d.steps(g, s)
		}
	}
	return s
}

// expr decodes a CEL expression and where it stands.
func (d *decoder) expr(f field, obj any) (string, Src) {
	s, ok := d.text(f, obj, "a CEL expression")
	if !ok {
		return "", Src{}
	}
	return trimExpr(s), d.exprSrc(f.key, f.val)
}

// quantifierKeys are the step keys that make up a Quantifier.
var quantifierKeys = []string{"times", "optional", "greedy", "repeat", "repeat_within"}

// quantifier builds a step's Quantifier from times, optional, greedy, repeat and
// repeat_within: nil when they say nothing beyond "exactly one" (absent, or only
// optional: false / greedy: false). An explicit times: 1 is kept.
func (d *decoder) quantifier(f map[string]field, s *Step) *Quantifier {
	q := Quantifier{Min: 1, Max: 1}
	for _, k := range quantifierKeys {
		if hasValue(f, k) {
			q.Pos = nodePos(f[k].key)
			break
		}
	}
	if q.Pos.Line == 0 {
		return nil
	}
	if hasValue(f, "times") {
		t := f["times"]
		if text, ok := d.text(t, s, "a count (N, N..M or N+)"); ok {
			if err := parseTimes(strings.TrimSpace(text), &q); err != nil {
				d.errorf(t.val, "bad 'times' '%s': %v", text, err)
				d.markBad(s, "times")
			}
		}
	}
	q.Optional = d.boolean(f["optional"], s) || q.Optional
	q.Greedy = d.boolean(f["greedy"], s)
	canonical := []string{"strict", "relaxed", "any"}
	if c, ok := d.word(f["repeat"], s, "repetition contiguity", repeatContiguities, canonical); ok {
		q.Inner = Contiguity(c)
	}
	q.WindowMs = d.duration(f["repeat_within"], s)
	if !hasValue(f, "times") && q == (Quantifier{Min: 1, Max: 1, Pos: q.Pos}) {
		return nil
	}
	return &q
}

func hasValue(f map[string]field, key string) bool {
	kf, ok := f[key]
	return ok && !isNull(kf.val)
}

// parseTimes reads "N", "N..M" or "N+" into q. A minimum of 0 is stored as 1 with
// Optional set (times 0..3 = times 1..3, optional).
func parseTimes(s string, q *Quantifier) error {
	lo, hi, rng := strings.Cut(s, "..")
	plus := !rng && strings.HasSuffix(s, "+")
	if plus {
		lo = strings.TrimSuffix(s, "+")
	}
	minN, err := count(lo)
	if err != nil {
		return err
	}
	maxN := minN
	switch {
	case plus:
		maxN = -1
	case rng:
		if maxN, err = count(hi); err != nil {
			return err
		}
	}
	q.Min, q.Max = minN, maxN
	if q.Min == 0 {
		q.Min, q.Optional = 1, true
	}
	return nil
}

// count reads a non-negative decimal count up to MaxTimes.
func count(s string) (int, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("want N, N..M or N+ (e.g. 3, 2..5, 1+)")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > MaxTimes {
		return 0, fmt.Errorf("%s is more than the limit of %d", s, MaxTimes)
	}
	return n, nil
}
