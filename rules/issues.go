package rules

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/parser"

	"github.com/cepd/cepd/patterns"
)

// issue is one compile problem of an expression, at a line and column (1-based) of its
// text, in words an analyst understands.
type issue struct {
	line, col int
	msg       string
}

var (
	reOverload   = regexp.MustCompile(`^found no matching overload for '([^']+)' applied to '\((.*)\)'`)
	reExpected   = regexp.MustCompile(`^expected type '([^']+)' but found '([^']+)'`)
	reUndeclared = regexp.MustCompile(`^undeclared reference to '([^']+)'`)
	reMismatched = regexp.MustCompile(`^(mismatched|extraneous) input '(.*)' expecting (.*)$`)
	reMissing    = regexp.MustCompile(`^missing '?(.*?)'? at '(.*)'$`)
	reNoViable   = regexp.MustCompile(`^no viable alternative at input '(.*)'$`)
	reTokenError = regexp.MustCompile(`^token recognition error at: '(.*)'$`)
	reLastToken  = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_.]*|[0-9]+(\.[0-9]+)?|'[^']*'|"[^"]*"|&&|\|\||[=!<>]=|[-+*/%<>!?:.,()\[\]{}])$`)
)

// operatorWords names CEL's operator functions as written.
var operatorWords = map[string]string{
	"_>_": ">", "_<_": "<", "_>=_": ">=", "_<=_": "<=", "_==_": "==", "_!=_": "!=",
	"_+_": "+", "_-_": "-", "_*_": "*", "_/_": "/", "_%_": "%", "_&&_": "&&", "_||_": "||",
	"@in": "in", "!_": "!", "-_": "-", "_[_]": "[]", "_?_:_": "?:",
}

// describeIssues turns cel-go's issues about text into issues positioned on the exact
// sub-expression, naming the expression's parts and types.
func (env *Env) describeIssues(text string, iss *cel.Issues) []issue {
	var parsed *ast.AST
	if p, piss := env.cel.Parse(text); piss == nil || piss.Err() == nil {
		parsed = p.NativeRep()
	}
	var out []issue
	syntax := false // after a syntax error, the parser's next ones are mostly its echoes
	for _, e := range iss.Errors() {
		if strings.HasPrefix(e.Message, "Syntax error: ") {
			if syntax {
				continue
			}
			syntax = true
		}
		is := issue{line: 1, col: 1, msg: e.Message}
		if e.Location != nil && e.Location.Line() > 0 {
			is.line, is.col = e.Location.Line(), e.Location.Column()+1
		}
		var node ast.Expr
		if parsed != nil && e.ExprID != 0 {
			node = find(parsed.Expr(), e.ExprID)
			if node != nil && (e.Location == nil || e.Location.Line() <= 0) {
				if loc := parsed.SourceInfo().GetStartLocation(e.ExprID); loc.Line() > 0 {
					is.line, is.col = loc.Line(), loc.Column()+1
				}
			}
		}
		switch msg := e.Message; {
		case strings.HasPrefix(msg, "Syntax error: "):
			is.msg = syntaxMessage(text, is.line, is.col, strings.TrimPrefix(msg, "Syntax error: "))
		case reOverload.MatchString(msg) && node != nil:
			m := reOverload.FindStringSubmatch(msg)
			var at ast.Expr
			is.msg, at = env.overloadMessage(text, node, parsed.SourceInfo(), m[1], splitTypes(m[2]), msg)
			if at != nil {
				if loc := parsed.SourceInfo().GetStartLocation(at.ID()); loc.Line() > 0 {
					is.line, is.col = loc.Line(), loc.Column()+1
				}
			}
		case reExpected.MatchString(msg) && node != nil:
			m := reExpected.FindStringSubmatch(msg)
			is.msg = fmt.Sprintf("type mismatch: %s is %s, where %s is needed", unparse(node, parsed.SourceInfo(), text), typeName(m[2]), typeName(m[1]))
			if m[1] == "bool" {
				is.msg += " (a true/false condition: compare it, e.g. > 0)"
			}
		case reUndeclared.MatchString(msg):
			name := reUndeclared.FindStringSubmatch(msg)[1]
			is.msg = fmt.Sprintf("%s is not defined: a condition can use e (the event), match (the events of earlier steps), CEL's functions and the helpers %s", name, helperNames())
			if s := closestHelper(name); s != "" {
				h, _ := helper(s)
				is.msg = fmt.Sprintf("%s is not defined; did you mean %s?", name, h.Signature)
			}
		default:
			is.msg = env.explainIssue(msg)
		}
		out = append(out, is)
	}
	return out
}

// overloadMessage explains a call whose argument types no form of the function takes.
// It may name the argument to point at.
func (env *Env) overloadMessage(text string, node ast.Expr, info *ast.SourceInfo, fn string, types []string, raw string) (string, ast.Expr) {
	if node.Kind() != ast.CallKind {
		return env.explainIssue(raw), nil
	}
	call := node.AsCall()
	args := call.Args()
	if call.IsMemberFunction() {
		args = append([]ast.Expr{call.Target()}, args...)
	}
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = unparse(a, info, text)
	}
	described := func() string {
		var l []string
		for i := range parts {
			if i < len(types) {
				l = append(l, fmt.Sprintf("%s is %s", parts[i], typeName(types[i])))
			}
		}
		return strings.Join(l, "; ")
	}
	if op, ok := operatorWords[fn]; ok {
		hint := ""
		switch op {
		case "<", ">", "<=", ">=", "==", "!=":
			hint = fmt.Sprintf(" (%s compares values of one type)", op)
			if hasType(types, "int") && hasType(types, "double") {
				hint = fmt.Sprintf(" (%s needs one type: write 100.0 rather than 100, or convert with double(...) / int(...))", op)
			}
		case "+", "-", "*", "/", "%":
			hint = fmt.Sprintf(" (%s takes two numbers of one type, or timestamps and durations)", op)
		case "&&", "||", "!":
			hint = fmt.Sprintf(" (%s takes true/false conditions)", op)
		case "in":
			hint = " (in looks a value up in a list or map of values of its type)"
		}
		return fmt.Sprintf("type mismatch: %s%s", described(), hint), nil
	}
	if h, ok := helper(fn); ok {
		params := h.params()
		if len(params) != len(args) {
			return fmt.Sprintf("%s takes %d argument%s, not %d: its signature is %s (%s)", fn, len(params), plural(len(params)), len(args), h.Signature, h.Doc), nil
		}
		for i, p := range params {
			if i < len(types) && isConcrete(p) && p != types[i] && !(p == "double" && types[i] == "dyn") {
				return fmt.Sprintf("argument %d of %s, %s, is %s, where %s is needed: its signature is %s", i+1, fn, parts[i], typeName(types[i]), typeName(p), h.Signature), args[i]
			}
		}
		return fmt.Sprintf("%s is called with (%s), but its signature is %s (%s)", fn, strings.Join(types, ", "), h.Signature, h.Doc), nil
	}
	return fmt.Sprintf("no form of %s takes (%s): %s", fn, strings.Join(types, ", "), described()), nil
}

// syntaxMessage rewrites an ANTLR message as "expected … after …".
func syntaxMessage(text string, line, col int, msg string) string {
	after := tokenBefore(text, line, col)
	afterWords := ""
	if after != "" {
		afterWords = fmt.Sprintf(" after %s", after)
	}
	found := func(tok string) string {
		if tok == "<EOF>" || tok == "'<EOF>'" {
			return "the end of the expression"
		}
		return "'" + tok + "'"
	}
	switch {
	case reMissing.MatchString(msg):
		m := reMissing.FindStringSubmatch(msg)
		return fmt.Sprintf("syntax error: expected '%s'%s, found %s", m[1], afterWords, found(m[2]))
	case reMismatched.MatchString(msg):
		m := reMismatched.FindStringSubmatch(msg)
		return fmt.Sprintf("syntax error: expected %s%s, found %s", expectedWords(m[3]), afterWords, found(m[2]))
	case reNoViable.MatchString(msg):
		m := reNoViable.FindStringSubmatch(msg)
		return fmt.Sprintf("syntax error: %s cannot be read as an expression%s", found(m[1]), afterWords)
	case reTokenError.MatchString(msg):
		m := reTokenError.FindStringSubmatch(msg)
		hint := ""
		switch {
		case strings.HasPrefix(m[1], "="):
			hint = " (compare with ==, >= or <=)"
		case strings.ContainsAny(m[1], "'\""):
			hint = " (a string is quoted with ' or \" at both ends)"
		}
		return fmt.Sprintf("syntax error: '%s' is not valid here%s%s", m[1], afterWords, hint)
	}
	return "syntax error: " + msg
}

// expectedWords summarises an ANTLR expected-token set.
func expectedWords(set string) string {
	set = strings.TrimSuffix(strings.TrimPrefix(set, "{"), "}")
	toks := strings.Split(set, ", ")
	if len(toks) > 4 || strings.Contains(set, "IDENTIFIER") || strings.Contains(set, "NUM_") {
		return "an expression"
	}
	for i, t := range toks {
		if t == "<EOF>" {
			toks[i] = "the end of the expression"
		}
	}
	if len(toks) == 1 {
		return toks[0]
	}
	return "one of " + strings.Join(toks, " ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// isConcrete reports whether a signature's parameter type is one type (not T, list<T>).
func isConcrete(t string) bool { return !strings.ContainsAny(t, "<T") }

// tokenBefore returns the token (quoted) that ends before line:col of text, "" at the start.
func tokenBefore(text string, line, col int) string {
	lines := strings.Split(text, "\n")
	off := 0
	for i := 0; i < line-1 && i < len(lines); i++ {
		off += len(lines[i]) + 1
	}
	off = min(off+col-1, len(text))
	prefix := strings.TrimRight(text[:max(off, 0)], " \t\r\n")
	m := reLastToken.FindString(prefix)
	if m == "" {
		return ""
	}
	return "'" + m + "'"
}

// typeName names a CEL type in a message.
func typeName(t string) string {
	switch {
	case t == "null_type":
		return "null"
	case t == "int", strings.HasPrefix(t, "uint"):
		return "an " + t
	case strings.HasPrefix(t, "list"), strings.HasPrefix(t, "map"):
		return "a " + t
	}
	return "a " + t
}

func hasType(l []string, t string) bool {
	for _, x := range l {
		if x == t {
			return true
		}
	}
	return false
}

// splitTypes splits "double, list(int), map(string, int)" at top-level commas.
func splitTypes(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if strings.TrimSpace(s[start:]) != "" {
		out = append(out, strings.TrimSpace(s[start:]))
	}
	return out
}

// stringLiteralArg returns the string literal argument of a duration(...) or
// timestamp(...) call.
func stringLiteralArg(node ast.Expr) (ast.Expr, string, bool) {
	if node.Kind() != ast.CallKind {
		return nil, "", false
	}
	c := node.AsCall()
	fn := c.FunctionName()
	if (fn != "duration" && fn != "timestamp") || len(c.Args()) != 1 || c.Args()[0].Kind() != ast.LiteralKind {
		return nil, "", false
	}
	return c.Args()[0], fn, true
}

// unparse prints e as CEL; a literal is shown as written (so 'x' keeps its quotes).
func unparse(e ast.Expr, info *ast.SourceInfo, text string) string {
	if e.Kind() == ast.LiteralKind {
		if r, ok := info.GetOffsetRange(e.ID()); ok && r.Start >= 0 && r.Stop > r.Start {
			if t := []rune(text); int(r.Stop) <= len(t) {
				return string(t[r.Start:r.Stop])
			}
		}
	}
	s, err := parser.Unparse(e, info)
	if err != nil {
		if e.Kind() == ast.CallKind {
			return e.AsCall().FunctionName() + "(…)"
		}
		return "this expression"
	}
	return s
}

// find returns the sub-expression of e with the given id, nil if none.
func find(e ast.Expr, id int64) ast.Expr {
	var out ast.Expr
	visit(e, func(x ast.Expr) {
		if out == nil && x.ID() == id {
			out = x
		}
	})
	return out
}

func helperNames() string {
	names := make([]string, len(Helpers))
	for i, h := range Helpers {
		names[i] = h.Name
	}
	return strings.Join(names, ", ")
}

// closestHelper returns the helper whose name is within two edits of name, "" if none.
func closestHelper(name string) string {
	best, bestD := "", min(3, len(name)/2+1) // x is not a typo of max
	for _, h := range Helpers {
		if d := patterns.EditDistance(name, h.Name); d < bestD {
			best, bestD = h.Name, d
		}
	}
	return best
}

// literalIssues reports duration('…') and timestamp('…') calls on string literals that
// do not parse, at the literal: the interpreter would only fail when planning the program,
// without a position.
func literalIssues(text string, a *ast.AST) []issue {
	var out []issue
	visit(a.Expr(), func(e ast.Expr) {
		arg, fn, ok := stringLiteralArg(e)
		if !ok {
			return
		}
		s, isStr := arg.AsLiteral().Value().(string)
		if !isStr {
			return
		}
		var bad bool
		switch fn {
		case "duration":
			_, err := time.ParseDuration(s)
			bad = err != nil
		case "timestamp":
			_, err := time.Parse(time.RFC3339Nano, s)
			bad = err != nil
		}
		if !bad {
			return
		}
		is := issue{line: 1, col: 1}
		if loc := a.SourceInfo().GetStartLocation(arg.ID()); loc.Line() > 0 {
			is.line, is.col = loc.Line(), loc.Column()+1
		}
		lit := unparse(arg, a.SourceInfo(), text)
		if fn == "duration" {
			is.msg = fmt.Sprintf("%s is not a duration: write it as '10m', '90s', '1h30m' or '500ms' (units h, m, s, ms, us, ns; no spaces)", lit)
		} else {
			is.msg = fmt.Sprintf("%s is not a timestamp: write it in RFC 3339, like '2024-03-01T10:00:00Z'", lit)
		}
		out = append(out, is)
	})
	return out
}
