package nfa

import "strings"

// cond is an edge condition: a leaf (a step's where or until), a negation, a conjunction,
// or true. Flink builds the same trees (RichNotCondition, RichAndCondition).
type cond struct {
	op   condOp
	leaf int // index into Program.leaves for opLeaf
	a, b *cond
}

type condOp uint8

const (
	opTrue condOp = iota
	opLeaf
	opNot
	opAnd
)

var condTrue = &cond{op: opTrue}

func not(c *cond) *cond { return &cond{op: opNot, a: c} }

func and(a, b *cond) *cond { return &cond{op: opAnd, a: a, b: b} }

// leaf describes one compiled expression of the pattern.
type leaf struct {
	step string
	kind CondKind
	text string
	c    Condition // nil = always true
	// guard is c's event-only guard (Guarded), nil when it has none.
	guard Condition
}

func (p *Program) condString(c *cond) string {
	if c == nil {
		return "true"
	}
	var b strings.Builder
	p.writeCond(&b, c)
	return b.String()
}

func (p *Program) writeCond(b *strings.Builder, c *cond) {
	switch c.op {
	case opTrue:
		b.WriteString("true")
	case opLeaf:
		l := p.leaves[c.leaf]
		if l.kind == CondUntil {
			b.WriteString(l.step + ".until")
		} else {
			b.WriteString(l.step)
		}
	case opNot:
		b.WriteString("!")
		if c.a.op == opAnd {
			b.WriteString("(")
			p.writeCond(b, c.a)
			b.WriteString(")")
		} else {
			p.writeCond(b, c.a)
		}
	case opAnd:
		p.writeCond(b, c.a)
		b.WriteString(" && ")
		p.writeCond(b, c.b)
	}
}
