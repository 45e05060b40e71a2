package patterns

import (
	"strconv"
	"strings"
)

// String prints the pattern compactly, one line per step, in Flink CEP's vocabulary;
// golden tests and "cepd explain" show it. The format is stable:
//
//	begin small{3,}? greedy consecutive repeatWithin 10m where(e.amount < 2.0) until(e.amount > 100.0)
//	followedBy large where(e.amount > 500.0) gap 5m
//	notFollowedBy no_capture where(e.type == 'capture')
//	followedByAny group burst{2,} (
//	  begin a where(e.x > 1)
//	  next b
//	)
//	within 30m
//	skip to_first small
//
// A step line is: how it follows (begin for the first step of a sequence, else next,
// followedBy or followedByAny by contiguity, or notNext / notFollowedBy for a negation),
// "group" for a group, the name with its quantifier ({n}, {n,m}, {n,} for unbounded, then
// ? when optional), the options greedy, consecutive / allowCombinations (the contiguity
// between repetitions when not relaxed) and repeatWithin D, then where(CEL) and
// until(CEL) with line breaks folded to spaces, then gap D. A group's steps follow,
// indented two spaces, closed by ")". The window ("within D", with "previousAndCurrent"
// for that kind), a skip strategy other than no_skip and a release other than
// at_completion close the text. Explicit and
// default relaxed contiguity print alike: String shows meaning, not spelling.
func (p *Pattern) String() string {
	var b strings.Builder
	writeSteps(&b, p.Steps, 0)
	if p.WithinMs != 0 || p.WithinType != FirstAndLast {
		b.WriteString("within " + FormatDuration(p.WithinMs))
		if p.WithinType == PreviousAndCurrent {
			b.WriteString(" previousAndCurrent")
		} else if p.WithinType != FirstAndLast {
			b.WriteString(" type" + strconv.Itoa(int(p.WithinType)))
		}
		b.WriteByte('\n')
	}
	if p.Skip.Kind != NoSkip || p.Skip.Step != "" {
		b.WriteString("skip " + enumName(skipNames[:], p.Skip.Kind))
		if p.Skip.Step != "" {
			b.WriteString(" " + p.Skip.Step)
		}
		b.WriteByte('\n')
	}
	if p.Release != AtCompletion {
		b.WriteString("release " + enumName(releaseNames[:], p.Release) + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func writeSteps(b *strings.Builder, steps []*Step, depth int) {
	pad := strings.Repeat("  ", depth)
	for i, s := range steps {
		words := []string{follows(s, i == 0)}
		if s.IsGroup() {
			words = append(words, "group")
		}
		words = append(words, s.Name+quantifierString(s.Quantifier))
		if q := s.Quantifier; q != nil {
			if q.Greedy {
				words = append(words, "greedy")
			}
			switch q.Inner {
			case Strict:
				words = append(words, "consecutive")
			case Any:
				words = append(words, "allowCombinations")
			case ContiguityDefault, Relaxed:
			default:
				words = append(words, "inner"+strconv.Itoa(int(q.Inner)))
			}
			if q.WindowMs != 0 {
				words = append(words, "repeatWithin "+FormatDuration(q.WindowMs))
			}
		}
		if s.Where != "" {
			words = append(words, "where("+oneLine(s.Where)+")")
		}
		if s.Until != "" {
			words = append(words, "until("+oneLine(s.Until)+")")
		}
		if s.WithinMs != 0 {
			words = append(words, "gap "+FormatDuration(s.WithinMs))
		}
		if s.IsGroup() {
			words = append(words, "(")
		}
		b.WriteString(pad + strings.Join(words, " ") + "\n")
		if s.IsGroup() {
			writeSteps(b, s.Group, depth+1)
			b.WriteString(pad + ")\n")
		}
	}
}

// follows names how a step follows the one before it.
func follows(s *Step, first bool) string {
	switch {
	case s.Negation == NotNext:
		return "notNext"
	case s.Negation == NotFollowedBy:
		return "notFollowedBy"
	case s.Negation != NotNegated:
		return "not" + strconv.Itoa(int(s.Negation))
	case first:
		return "begin"
	case s.Contiguity == Strict:
		return "next"
	case s.Contiguity == Any:
		return "followedByAny"
	}
	return "followedBy"
}

func quantifierString(q *Quantifier) string {
	if q == nil {
		return ""
	}
	var s string
	switch {
	case q.Min == 1 && q.Max == 1:
	case q.Max < 0:
		s = "{" + strconv.Itoa(q.Min) + ",}"
	case q.Min == q.Max:
		s = "{" + strconv.Itoa(q.Min) + "}"
	default:
		s = "{" + strconv.Itoa(q.Min) + "," + strconv.Itoa(q.Max) + "}"
	}
	if q.Optional {
		s += "?"
	}
	return s
}

// oneLine folds an expression's line breaks (and the indentation after them) to single
// spaces, dropping blank lines.
func oneLine(s string) string {
	var parts []string
	for i, l := range strings.Split(strings.ReplaceAll(s, "\r", ""), "\n") {
		if i > 0 {
			l = strings.TrimLeft(l, " \t")
		}
		if l = strings.TrimRight(l, " \t"); l != "" || i == 0 {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}
