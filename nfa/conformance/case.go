package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cepd/cepd/patterns"
)

// Case is one conformance case.
type Case struct {
	ID               string            `json:"id"`
	Source           string            `json:"source"`
	Feature          []string          `json:"feature"`
	Pattern          casePattern       `json:"pattern"`
	Events           []json.RawMessage `json:"events"`
	ExpectedMatches  [][]int64         `json:"expected_matches"`
	ExpectedTimeouts []caseTimeout     `json:"expected_timeouts"`
	EndTimeMs        json.RawMessage   `json:"end_time_ms"`
	EquivalentEvents [][]int64         `json:"equivalent_events"`
	KeyBy            string            `json:"key_by"`
	Notes            string            `json:"notes"`

	File string `json:"-"`
}

type casePattern struct {
	Steps      []*caseStep `json:"steps"`
	WithinMs   int64       `json:"within_ms"`
	WithinType string      `json:"within_type"`
	Skip       *struct {
		Strategy string `json:"strategy"`
		Step     string `json:"step"`
	} `json:"skip"`
}

type caseStep struct {
	Name       string          `json:"name"`
	Contiguity string          `json:"contiguity"`
	Where      string          `json:"where"`
	Quantifier *caseQuantifier `json:"quantifier"`
	Until      string          `json:"until"`
	Negation   string          `json:"negation"`
	Group      []*caseStep     `json:"group"`
}

type caseQuantifier struct {
	Min      int    `json:"min"`
	Max      *int   `json:"max"`
	Optional bool   `json:"optional"`
	Greedy   bool   `json:"greedy"`
	Inner    string `json:"inner"`
	WindowMs int64  `json:"window_ms"`
}

type caseTimeout struct {
	IDs []int64 `json:"ids"`
	TS  *int64  `json:"ts"`
}

// Load reads cases from files and directories (every *.json below a directory).
func Load(paths ...string) ([]*Case, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("conformance: %w", err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("conformance: %w", err)
		}
	}
	sort.Strings(files)
	var cases []*Case
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("conformance: %w", err)
		}
		var cs []*Case
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cs); err != nil {
			return nil, fmt.Errorf("conformance: %s: %w", f, err)
		}
		for _, c := range cs {
			c.File = f
		}
		cases = append(cases, cs...)
	}
	return cases, nil
}

// PatternAST converts the case's pattern to the rule language's AST. Matches are
// released in start order (patterns.InStartOrder), as the Flink tests the corpus comes
// from assert them.
func (c *Case) PatternAST() (*patterns.Pattern, error) {
	p := &patterns.Pattern{WithinMs: c.Pattern.WithinMs, Release: patterns.InStartOrder}
	switch c.Pattern.WithinType {
	case "", "first_and_last":
	case "previous_and_current":
		p.WithinType = patterns.PreviousAndCurrent
	default:
		return nil, fmt.Errorf("unknown within_type %q", c.Pattern.WithinType)
	}
	if sk := c.Pattern.Skip; sk != nil {
		p.Skip.Step = sk.Step
		switch sk.Strategy {
		case "", "no_skip":
		case "skip_to_next":
			p.Skip.Kind = patterns.SkipToNext
		case "skip_past_last_event":
			p.Skip.Kind = patterns.SkipPastLastEvent
		case "skip_to_first":
			p.Skip.Kind = patterns.SkipToFirst
		case "skip_to_last":
			p.Skip.Kind = patterns.SkipToLast
		default:
			return nil, fmt.Errorf("unknown skip strategy %q", sk.Strategy)
		}
	}
	steps, err := convertSteps(c.Pattern.Steps)
	if err != nil {
		return nil, err
	}
	p.Steps = steps
	return p, nil
}

func contiguity(s string) (patterns.Contiguity, error) {
	switch s {
	case "":
		return patterns.ContiguityDefault, nil
	case "strict":
		return patterns.Strict, nil
	case "relaxed":
		return patterns.Relaxed, nil
	case "any":
		return patterns.Any, nil
	}
	return 0, fmt.Errorf("unknown contiguity %q", s)
}

func convertSteps(in []*caseStep) ([]*patterns.Step, error) {
	out := make([]*patterns.Step, 0, len(in))
	for _, cs := range in {
		s := &patterns.Step{Name: cs.Name, Where: cs.Where, Until: cs.Until}
		var err error
		if s.Contiguity, err = contiguity(cs.Contiguity); err != nil {
			return nil, err
		}
		switch cs.Negation {
		case "":
		case "notNext":
			s.Negation = patterns.NotNext
		case "notFollowedBy":
			s.Negation = patterns.NotFollowedBy
		default:
			return nil, fmt.Errorf("unknown negation %q", cs.Negation)
		}
		if q := cs.Quantifier; q != nil {
			pq := &patterns.Quantifier{Min: q.Min, Max: -1, Optional: q.Optional, Greedy: q.Greedy, WindowMs: q.WindowMs}
			if q.Max != nil {
				pq.Max = *q.Max
			}
			if pq.Min == 0 {
				pq.Min, pq.Optional = 1, true
			}
			if pq.Inner, err = contiguity(q.Inner); err != nil {
				return nil, err
			}
			s.Quantifier = pq
		}
		if cs.Group != nil {
			if s.Group, err = convertSteps(cs.Group); err != nil {
				return nil, err
			}
		}
		out = append(out, s)
	}
	return out, nil
}
