package patterns

// canRepeat describes the quantifiers a repetition option needs, for messages.
const canRepeat = "a step that can repeat (times N+, or N..M with M > 1)"

func (v *validator) pattern() {
	r, p := v.r, &v.r.Pattern
	switch {
	case len(p.Steps) > 0 || v.bad(r, "pattern"):
	case v.key(r, "pattern", Pos{}).Line > 0:
		v.errorf(v.key(r, "pattern", Pos{}), "'pattern' is empty: a rule needs at least one step")
	default:
		v.errorf(v.key(r, "", Pos{}), "missing 'pattern': a rule needs a list of steps")
	}
	within := v.val(r, "within", Pos{})
	switch {
	case p.WithinMs < 0:
		v.errorf(within, "'within' must be positive")
	case p.WithinType > PreviousAndCurrent:
		v.errorf(within, "unknown window type %d", p.WithinType)
	case p.WithinType == PreviousAndCurrent && p.WithinMs == 0 && !v.bad(r, "within"):
		v.errorf(within, "a previous_and_current window needs a duration")
	}
	v.sequence(p.Steps, 0, true)
	v.trailing()
	v.skip()
	if p.Release > InStartOrder {
		v.errorf(v.val(r, "release", Pos{}), "unknown release %d", p.Release)
	}
}

// sequence checks the steps of the pattern (depth 0) or of a group; atStart says the
// sequence begins the match, so that its first step has no event before it.
func (v *validator) sequence(steps []*Step, depth int, atStart bool) {
	for i, s := range steps {
		v.count++
		if v.count == MaxSteps+1 {
			v.errorf(s.Pos, "too many steps: a rule may have at most %d (groups and their steps count)", MaxSteps)
		}
		v.name(s)
		v.order(steps, i, depth)
		v.quantifier(s)
		v.gap(s, atStart && i == 0)
		if !s.IsGroup() {
			continue
		}
		switch {
		case depth+1 > MaxDepth:
			v.errorf(s.Pos, "groups are nested too deeply: at most %d levels", MaxDepth)
			continue
		case len(s.Group) == 0:
			v.errorf(v.key(s, "steps", s.Pos), "a group needs at least one step under 'steps'")
		}
		if s.Where != "" {
			v.errorf(v.key(s, "where", s.Pos), "a group cannot have 'where': put the conditions on its steps")
		}
		v.sequence(s.Group, depth+1, atStart && i == 0)
	}
}

func (v *validator) name(s *Step) {
	at := v.val(s, "name", s.Pos)
	switch {
	case s.Name == "":
		if !v.bad(s, "name") {
			v.errorf(s.Pos, "a step needs a 'name'")
		}
		return
	case len(s.Name) > MaxNameLen:
		v.errorf(at, "step name '%s' is too long: at most %d characters", s.Name, MaxNameLen)
	case v.ident && !isIdent(s.Name):
		v.errorf(at, "step name '%s' is not an identifier: use letters, digits and '_', not starting with a digit", s.Name)
	case !printable(s.Name):
		v.errorf(at, "step name %q has unprintable characters", s.Name)
	}
	if prev, dup := v.seen[s.Name]; dup {
		v.errorf(at, "duplicate step name '%s'%s", s.Name, firstOn(v.val(prev, "name", prev.Pos)))
		return
	}
	v.seen[s.Name] = s
}

// order checks what may stand where in a sequence: contiguity and negations.
func (v *validator) order(steps []*Step, i, depth int) {
	s := steps[i]
	where := "a pattern"
	if depth > 0 {
		where = "a group"
	}
	switch {
	case s.Contiguity > Any:
		v.errorf(v.key(s, "contiguity", s.Pos), "unknown contiguity %d", s.Contiguity)
	case i == 0 && s.Contiguity != ContiguityDefault:
		v.errorf(v.key(s, "contiguity", s.Pos), "the first step of %s cannot have 'contiguity': there is no step before it", where)
	case s.Negation != NotNegated && s.Contiguity != ContiguityDefault:
		v.errorf(v.key(s, "contiguity", s.Pos), "a negation cannot have 'contiguity': 'not: next' or 'not: followed_by' already says how it follows")
	}
	if s.Negation == NotNegated {
		return
	}
	not := v.key(s, "not", s.Pos)
	switch {
	case s.Negation > NotFollowedBy:
		v.errorf(not, "unknown negation %d", s.Negation)
	case i == 0:
		v.errorf(not, "%s cannot start with a negation ('not'): there is nothing before it to follow", where)
	case steps[i-1].Quantifier != nil && steps[i-1].Quantifier.Optional:
		v.errorf(not, "a negation cannot follow an optional step ('%s' is optional)", steps[i-1].Name)
	}
	if s.Quantifier != nil && !v.bad(s, "times") {
		v.errorf(orPos(s.Quantifier.Pos, s.Pos), "a negation cannot repeat or be optional: remove 'times', 'optional', 'greedy', 'repeat' and 'repeat_within'")
	}
	if s.Until != "" {
		v.errorf(v.key(s, "until", s.Pos), "a negation cannot have 'until'")
	}
	if s.IsGroup() {
		v.errorf(v.key(s, "steps", s.Pos), "a negation cannot be a group")
	}
	if s.WithinMs > 0 && !(s == lastStep(v.r.Pattern.Steps) && s.Negation == NotFollowedBy) {
		v.errorf(v.key(s, "gap", s.Pos), "'gap' on a negation is only allowed on a trailing 'not: followed_by', as its window")
	}
}

// quantifier checks a step's quantifier and until.
func (v *validator) quantifier(s *Step) {
	q := s.Quantifier
	if v.bad(s, "times") || s.Negation != NotNegated {
		return
	}
	if s.Until != "" && !q.Looping() {
		v.errorf(v.key(s, "until", s.Pos), "'until' needs a step that repeats without limit: use times N+ (e.g. times: 1+)")
	}
	if q == nil {
		return
	}
	at := func(key string) Pos { return v.key(s, key, orPos(q.Pos, s.Pos)) }
	times := v.val(s, "times", orPos(q.Pos, s.Pos))
	switch {
	case q.Min < 1:
		v.errorf(times, "'times' minimum %d: it must be at least 1 (a written 0 makes the step optional)", q.Min)
	case q.Max < -1:
		v.errorf(times, "'times' maximum %d is not valid (-1 means no limit)", q.Max)
	case q.Max >= 0 && q.Max < 1:
		v.errorf(times, "'times' allows no events: the most must be at least 1 (for an optional step write optional: true)")
	case q.Max >= 0 && q.Max < q.Min:
		v.errorf(times, "'times' %d..%d: the least is more than the most", q.Min, q.Max)
	case q.Min > MaxTimes || q.Max > MaxTimes:
		v.errorf(times, "'times' is more than the limit of %d", MaxTimes)
	}
	repeats := q.Max < 0 || q.Max > 1
	if q.Greedy && !(q.Max < 0 || q.Max > q.Min) {
		v.errorf(at("greedy"), "'greedy' needs a step that takes a varying number of events: times N+, or N..M with N < M")
	}
	switch {
	case q.Inner > Any:
		v.errorf(at("repeat"), "unknown repetition contiguity %d", q.Inner)
	case q.Inner != ContiguityDefault && !repeats:
		v.errorf(at("repeat"), "'repeat' needs %s", canRepeat)
	}
	switch {
	case q.WindowMs < 0:
		v.errorf(at("repeat_within"), "'repeat_within' must be positive")
	case q.WindowMs > 0 && !repeats:
		v.errorf(at("repeat_within"), "'repeat_within' needs %s", canRepeat)
	}
}

// gap checks a step's gap (Step.WithinMs); first says no event comes before the step.
func (v *validator) gap(s *Step, first bool) {
	p := &v.r.Pattern
	at := v.key(s, "gap", s.Pos)
	switch {
	case s.WithinMs < 0:
		v.errorf(at, "'gap' must be positive")
	case s.WithinMs == 0:
	case first:
		v.errorf(at, "'gap' cannot be on the first step: there is no earlier event to measure it from")
	case p.WithinMs > 0 && p.WithinType == FirstAndLast && s.WithinMs > p.WithinMs:
		v.errorf(v.val(s, "gap", s.Pos), "'gap' (%s) is longer than the rule's 'within' (%s): it could never be used",
			FormatDuration(s.WithinMs), FormatDuration(p.WithinMs))
	}
}

// trailing checks that a pattern ending in "not followed by" has a window.
func (v *validator) trailing() {
	r := v.r
	last := lastStep(r.Pattern.Steps)
	if last == nil || last.Negation != NotFollowedBy || r.Pattern.WithinMs > 0 || last.WithinMs > 0 ||
		v.bad(r, "within") || v.bad(last, "gap") {
		return
	}
	v.errorf(v.key(last, "not", last.Pos), "a rule cannot end with 'not followed by' unless it has a window: "+
		"otherwise it could never complete; add 'within' to the rule (or a 'gap' to this step)")
}

// lastStep is the step a match ends on: the last step, inside the last group.
func lastStep(steps []*Step) *Step {
	if len(steps) == 0 {
		return nil
	}
	s := steps[len(steps)-1]
	if len(s.Group) > 0 {
		return lastStep(s.Group)
	}
	return s
}

func (v *validator) skip() {
	r, sk := v.r, v.r.Pattern.Skip
	if v.bad(r, "skip") {
		return
	}
	at := v.val(r, "skip", sk.Pos)
	switch sk.Kind {
	case NoSkip, SkipToNext, SkipPastLastEvent:
		if sk.Step != "" {
			v.errorf(at, "skip %s takes no step (only to_first and to_last name one)", skipNames[sk.Kind])
		}
		return
	case SkipToFirst, SkipToLast:
	default:
		v.errorf(at, "unknown skip strategy %d", sk.Kind)
		return
	}
	name := skipNames[sk.Kind]
	var target *Step
	Walk(r.Pattern.Steps, func(s *Step) {
		if s.Name == sk.Step && target == nil {
			target = s
		}
	})
	switch {
	case sk.Step == "":
		v.errorf(at, "skip %s needs a step: write %s:STEP", name, name)
	case target == nil:
		v.errorf(at, "skip %s: no step named '%s'%s", name, sk.Step, didYouMean(sk.Step, r.Pattern.StepNames()))
	case target.IsGroup():
		v.errorf(at, "skip %s: '%s' is a group; name one of its steps", name, sk.Step)
	}
}

// orPos is p, or fallback when p is unknown.
func orPos(p, fallback Pos) Pos {
	if p.Line > 0 {
		return p
	}
	return fallback
}
