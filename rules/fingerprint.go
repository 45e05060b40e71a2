package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/patterns"
)

// canonicalPattern writes everything about the rule that decides which events match
// and which alerts of which kind come out, with conditions in their canonical CEL form.
func canonicalPattern(c *Compiled) string {
	r := c.Rule
	var b strings.Builder
	p := &r.Pattern
	fmt.Fprintf(&b, "key=%q timeouts=%t within=%d/%d skip=%d/%q", r.KeyField(), r.Timeouts, p.WithinMs, p.WithinType, p.Skip.Kind, p.Skip.Step)
	if p.Release != patterns.AtCompletion { // written only when set, so older rules keep their versions
		fmt.Fprintf(&b, " release=%d", p.Release)
	}
	b.WriteByte('\n')
	var steps func(ss []*patterns.Step, depth int)
	steps = func(ss []*patterns.Step, depth int) {
		for _, s := range ss {
			ind := strings.Repeat("  ", depth)
			fmt.Fprintf(&b, "%sstep %q contiguity=%d negation=%d within=%d", ind, s.Name, s.Contiguity, s.Negation, s.WithinMs)
			if q := s.Quantifier; q != nil {
				fmt.Fprintf(&b, " times=%d..%d optional=%t greedy=%t inner=%d window=%d", q.Min, q.Max, q.Optional, q.Greedy, q.Inner, q.WindowMs)
			}
			b.WriteByte('\n')
			if cond, ok := c.conds[condKey{s.Name, nfa.CondWhere}]; ok && !s.IsGroup() {
				fmt.Fprintf(&b, "%s  where %q\n", ind, cond.x.canonical)
			}
			if cond, ok := c.conds[condKey{s.Name, nfa.CondUntil}]; ok {
				fmt.Fprintf(&b, "%s  until %q\n", ind, cond.x.canonical)
			}
			if s.IsGroup() {
				fmt.Fprintf(&b, "%s  group\n", ind)
				steps(s.Group, depth+2)
			}
		}
	}
	steps(p.Steps, 0)
	// Written only when set, so rules without them keep their versions.
	for i, a := range r.Aggregates {
		fmt.Fprintf(&b, "aggregate %q %s field=%q by=%q window=%d", a.Name, a.Func, a.Field, a.By, a.WindowMs)
		if i < len(c.aggs) && c.aggs[i].where != nil {
			fmt.Fprintf(&b, " where %q", c.aggs[i].where.x.canonical)
		}
		b.WriteByte('\n')
	}
	if r.Rearm.Kind != patterns.RearmEveryEvent {
		fmt.Fprintf(&b, "rearm=%d/%d\n", r.Rearm.Kind, r.HoldMs())
	}
	return b.String()
}

func fingerprint(c *Compiled) string {
	sum := sha256.Sum256([]byte(canonicalPattern(c)))
	return hex.EncodeToString(sum[:])
}

// version hashes the fingerprint with what else shapes an alert: emits, severity and the
// cooldown (which alerts leave). The decision is left out: it shapes answers, not alerts.
func version(c *Compiled) string {
	var b strings.Builder
	b.WriteString(c.fingerprint)
	fmt.Fprintf(&b, "\nseverity=%q\n", c.Rule.Severity)
	for _, em := range c.emits {
		fmt.Fprintf(&b, "emit %q %q\n", em.name, em.x.canonical)
	}
	if c.Rule.CooldownMs > 0 { // written only when set, so older rules keep their versions
		fmt.Fprintf(&b, "cooldown=%d\n", c.Rule.CooldownMs)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}
