package nfa

import (
	"fmt"

	"github.com/cepd/cepd/patterns"
)

// consuming is Flink's consuming strategy of a pattern element.
type consuming uint8

const (
	cStrict    consuming = iota // next()
	cNext                       // followedBy(): skip till next
	cAny                        // followedByAny(): skip till any
	cNotNext                    // notNext()
	cNotFollow                  // notFollowedBy()
)

// elem is one element of the pattern chain the compiler walks backwards, mirroring
// Flink's Pattern objects (each knows its predecessor).
type elem struct {
	step     *patterns.Step
	name     string
	prev     *elem
	strategy consuming
	inner    consuming // between repetitions
	looping  bool
	times    bool // has a Times (looping or times quantifier)
	from, to int
	timesWin int64 // window between repetitions
	optional bool
	greedy   bool
	where    *cond // condTrue when the step has no where
	until    *cond // nil when none
	group    *elem // last inner element of a group
	windowFL int64 // within declared on this element (FirstAndLast)
	windowPC int64 // within declared on this element (PreviousAndCurrent)
}

func contiguity(c patterns.Contiguity) consuming {
	switch c {
	case patterns.Strict:
		return cStrict
	case patterns.Any:
		return cAny
	}
	return cNext
}

// chain builds the element chain for steps and returns its last element.
func (c *compiler) chain(steps []*patterns.Step) (*elem, error) {
	var prev *elem
	for i, s := range steps {
		e := &elem{step: s, name: s.Name, prev: prev, inner: cNext, where: condTrue}
		switch {
		case i == 0:
			if s.Negation != patterns.NotNegated {
				return nil, c.errf(s, "step %q: a pattern cannot begin with a negation", s.Name)
			}
			e.strategy = cStrict // Flink's begin()
		case s.Negation == patterns.NotNext:
			e.strategy = cNotNext
		case s.Negation == patterns.NotFollowedBy:
			e.strategy = cNotFollow
		default:
			e.strategy = contiguity(s.Contiguity)
		}
		if q := s.Quantifier; q != nil {
			if s.Negation != patterns.NotNegated {
				return nil, c.errf(s, "step %q: a negation cannot repeat or be optional", s.Name)
			}
			from, to, opt := q.Min, q.Max, q.Optional
			if from == 0 { // times(0, n) is times(1, n).optional()
				from, opt = 1, true
			}
			if to >= 0 && to < from {
				return nil, c.errf(s, "step %q: at most %d is fewer than at least %d", s.Name, to, from)
			}
			e.optional, e.greedy = opt, q.Greedy
			e.inner = contiguity(q.Inner)
			e.timesWin = q.WindowMs
			switch {
			case to < 0:
				e.looping, e.times, e.from, e.to = true, true, from, from
			case from == 1 && to == 1:
				if q.WindowMs > 0 || q.Greedy {
					e.times, e.from, e.to = true, 1, 1
				}
			default:
				e.times, e.from, e.to = true, from, to
			}
		}
		if s.Until != "" && !e.looping {
			return nil, c.errf(s, "step %q: until only applies to a step that repeats without bound", s.Name)
		}
		if s.IsGroup() {
			if s.Where != "" {
				return nil, c.errf(s, "group %q cannot have its own where", s.Name)
			}
			inner, err := c.chain(s.Group)
			if err != nil {
				return nil, err
			}
			e.group = inner
		} else if s.Where != "" {
			l, err := c.leaf(s, CondWhere, s.Where)
			if err != nil {
				return nil, err
			}
			e.where = l
		}
		if s.Until != "" {
			l, err := c.leaf(s, CondUntil, s.Until)
			if err != nil {
				return nil, err
			}
			e.until = l
		}
		e.windowPC = s.WithinMs
		prev = e
	}
	if prev == nil {
		return nil, fmt.Errorf("nfa: empty pattern")
	}
	return prev, nil
}

func (c *compiler) leaf(s *patterns.Step, kind CondKind, text string) (*cond, error) {
	cnd, err := c.resolve(s, kind)
	if err != nil {
		return nil, err
	}
	if cnd == nil {
		return condTrue, nil
	}
	l := leaf{step: s.Name, kind: kind, text: text, c: cnd}
	if g, ok := cnd.(Guarded); ok {
		l.guard = g.Guard()
	}
	c.prog.leaves = append(c.prog.leaves, l)
	return &cond{op: opLeaf, leaf: len(c.prog.leaves) - 1}, nil
}

// Error is a compile error for a step of a pattern.
type Error struct {
	Pos patterns.Pos
	Msg string
}

func (e *Error) Error() string {
	if e.Pos.Line > 0 {
		return fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
	}
	return e.Msg
}

func (c *compiler) errf(s *patterns.Step, format string, args ...any) error {
	e := &Error{Msg: fmt.Sprintf(format, args...)}
	if s != nil {
		e.Pos = s.Pos
	}
	return e
}
