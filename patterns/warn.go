package patterns

import "strings"

// Warnings lists what in a valid rule lets its matching state grow without bound: such a
// rule is accepted, but one key with many matching events reaches its memory budget and
// loses partial matches (see nfa.Budget). The reasons, each at the step responsible:
//
//   - a step that repeats without bound (times: N+) in a rule without a whole-match
//     `within`: every event the step takes starts or extends partial matches for as long
//     as the key lives, each one longer than the last. `until` and `repeat_within` do not
//     bound it (the one may never hold, the other only bounds gaps);
//   - two or more such steps: every split of the key's events between them is a partial
//     match of its own, and the memory they hold grows with the cube of the events;
//   - `any` contiguity (contiguity: any, repeat: any) without a whole-match `within`:
//     every event the step takes doubles the partial matches waiting for it.
//
// A gap window (`within` of type previous_and_current, or on a step) does not bound a
// key whose events keep coming, so only a whole-match window removes the warning.
func Warnings(r *Rule) ErrorList {
	var out ErrorList
	if r.Pattern.WithinMs > 0 && r.Pattern.WithinType == FirstAndLast {
		return nil
	}
	var loops []*Step
	Walk(r.Pattern.Steps, func(s *Step) {
		if s.Negation == NotNegated && s.Quantifier.Looping() {
			loops = append(loops, s)
		}
	})
	const fix = "add a whole-match `within` to the rule"
	for i, s := range loops {
		pos := s.Pos
		if s.Quantifier.Pos.Line > 0 {
			pos = s.Quantifier.Pos
		}
		switch {
		case len(loops) > 1 && i == 1:
			names := make([]string, len(loops))
			for j, l := range loops {
				names[j] = "'" + l.Name + "'"
			}
			out.Add(r.Source, pos, "steps %s repeat without bound and the rule has no `within`: every split of a key's events between them is a partial match, so their memory grows with the cube of the key's events until the key's memory budget cuts them; %s", strings.Join(names, ", "), fix)
		case len(loops) == 1:
			out.Add(r.Source, pos, "step '%s' repeats without bound and the rule has no `within`: every event it takes starts or extends partial matches for as long as the key lives, until the key's memory budget cuts them; %s, or bound the repetition (times: N..M)", s.Name, fix)
		}
	}
	Walk(r.Pattern.Steps, func(s *Step) {
		switch {
		case s.Quantifier != nil && s.Quantifier.Inner == Any:
			out.Add(r.Source, s.Pos, "step '%s' repeats with `repeat: any` and the rule has no `within`: every event it takes doubles the partial matches combining them, until the key's memory budget cuts them; %s", s.Name, fix)
		case s.Contiguity == Any && s.Negation == NotNegated && len(r.Pattern.Steps) > 0 && s != r.Pattern.Steps[0]:
			out.Add(r.Source, s.Pos, "step '%s' follows with `contiguity: any` and the rule has no `within`: partial matches waiting for it are never discarded, and each event it takes adds more; %s", s.Name, fix)
		}
	})
	out.Sort()
	return out
}
