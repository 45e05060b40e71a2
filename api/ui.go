package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"time"

	"github.com/cepd/cepd/api/auth"
	"github.com/cepd/cepd/api/service"
	"github.com/cepd/cepd/backtest"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/ui"
	"google.golang.org/grpc/codes"
)

// The web UI's few needs the gRPC services do not answer, as plain REST handlers beside
// the gateway (like /v1/stats and /v1/openapi.json): who the token is, a rule's compiled pattern as data (the diagram), per-rule counters an
// analyst may read, the backtest directory's files and the process's runtime figures. Each is guarded by the same token check as the API.

// uiEngine is what the UI handlers read of the runtime.
type uiEngine interface {
	Rules() *engine.RuleSet
	AlertsByRule() map[string]uint64
	CheckpointStats() engine.CheckpointStats
}

// uiRoutes registers the UI and its helper endpoints on mux.
func uiRoutes(mux *http.ServeMux, eng Engine, admin *service.Admin, o Options, compiler func() (*event.Schema, *rules.Env)) {
	guard := func(c auth.Capability, h http.HandlerFunc) http.Handler {
		if o.Tokens.Enabled() {
			return o.Tokens.HTTP(c, h)
		}
		return h
	}
	static := ui.Handler()
	mux.Handle("GET /{$}", static)
	mux.Handle("GET /assets/", static)
	mux.Handle("GET /favicon.svg", static)
	mux.Handle("GET /v1/session", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveSession(w, r, o.Tokens)
	}))
	mux.Handle("POST /v1/rules:explain", guard(auth.Read, func(w http.ResponseWriter, r *http.Request) {
		_, env := compiler()
		serveExplain(w, r, env)
	}))
	ue, _ := eng.(uiEngine)
	mux.Handle("GET /v1/rules:stats", guard(auth.Read, func(w http.ResponseWriter, r *http.Request) {
		serveRuleStats(w, r, ue, admin)
	}))
	mux.Handle("GET /v1/backtests:files", guard(auth.Backtest, func(w http.ResponseWriter, _ *http.Request) {
		files := []backtest.File{}
		if o.Backtests != nil {
			var err error
			if files, err = o.Backtests.Files(); err != nil {
				writeAPIError(w, http.StatusInternalServerError, codes.Internal, "listing backtest files: "+err.Error())
				return
			}
		}
		writeJSON(w, map[string]any{"files": files})
	}))
	mux.Handle("GET /v1/admin/runtime", guard(auth.Manage, func(w http.ResponseWriter, _ *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		out := map[string]any{"heap_alloc_bytes": ms.HeapAlloc, "sys_bytes": ms.Sys, "goroutines": runtime.NumGoroutine(),
			"checkpoint_age_ms": int64(-1), "checkpoints": 0, "checkpoint_failures": 0}
		if ue != nil {
			ck := ue.CheckpointStats()
			out["checkpoints"], out["checkpoint_failures"], out["checkpoint_bytes"] = ck.Saves, ck.Failures, ck.LastBytes
			if ck.Saves > 0 && !ck.LastSave.IsZero() {
				out["checkpoint_age_ms"] = time.Since(ck.LastSave).Milliseconds()
			}
		}
		writeJSON(w, out)
	}))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// serveSession says who the bearer token is and what its role may do, so the UI offers
// only those controls (the server checks every call again).
func serveSession(w http.ResponseWriter, r *http.Request, tokens *auth.Tokens) {
	id := auth.Identity{Name: "anonymous", Role: auth.Admin}
	if tokens.Enabled() {
		// Resolve the token with a capability every role but ingest has; a refusal still
		// names the role.
		var err error
		id, err = tokens.Check(r.Header.Get("Authorization"), auth.Read)
		if err != nil && !errors.Is(err, auth.ErrDenied) {
			writeAPIError(w, http.StatusUnauthorized, codes.Unauthenticated, err.Error())
			return
		}
	}
	caps := map[string]bool{}
	for name, c := range map[string]auth.Capability{"read": auth.Read, "edit": auth.Edit, "backtest": auth.Backtest, "send": auth.Send, "manage": auth.Manage} {
		caps[name] = id.Role.Allows(c)
	}
	writeJSON(w, map[string]any{"name": id.Name, "role": string(id.Role), "auth": tokens.Enabled(), "can": caps})
}

// serveExplain compiles {"source": YAML} and answers the pattern as data (for the
// diagram), its text form and the NFA as `cepd explain` prints them, or the errors.
func serveExplain(w http.ResponseWriter, r *http.Request, env *rules.Env) {
	var req struct {
		Source string `json:"source"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, codes.InvalidArgument, "want {\"source\": \"...\"}: "+err.Error())
		return
	}
	c, errs := rules.CompileSource("rule.yaml", []byte(req.Source), "", env, rules.NewRegistry())
	if len(errs) > 0 {
		list := []map[string]any{}
		for _, e := range errs {
			list = append(list, map[string]any{"line": e.Pos.Line, "column": e.Pos.Col, "message": e.Msg})
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"code": int(codes.InvalidArgument), "message": "the rule does not compile", "errors": list})
		return
	}
	writeJSON(w, explainJSON(c))
}

// stepJSON is one pattern step as the diagram draws it.
type stepJSON struct {
	Name       string      `json:"name"`
	Contiguity string      `json:"contiguity"` // strict, relaxed, any
	Negation   string      `json:"negation,omitempty"`
	Min        int         `json:"min"`
	Max        int         `json:"max"` // -1: unbounded
	Optional   bool        `json:"optional,omitempty"`
	Greedy     bool        `json:"greedy,omitempty"`
	Inner      string      `json:"inner,omitempty"` // contiguity between repetitions
	RepeatMs   int64       `json:"repeat_within_ms,omitempty"`
	Where      string      `json:"where,omitempty"`
	Until      string      `json:"until,omitempty"`
	WithinMs   int64       `json:"gap_ms,omitempty"`
	Line       int         `json:"line"`
	Group      []*stepJSON `json:"group,omitempty"`
}

var contiguityNames = [...]string{patterns.ContiguityDefault: "relaxed", patterns.Strict: "strict", patterns.Relaxed: "relaxed", patterns.Any: "any"}
var negationNames = [...]string{patterns.NotNegated: "", patterns.NotNext: "not_next", patterns.NotFollowedBy: "not_followed_by"}
var skipNames = [...]string{patterns.NoSkip: "no_skip", patterns.SkipToNext: "skip_to_next", patterns.SkipPastLastEvent: "skip_past_last_event", patterns.SkipToFirst: "skip_to_first", patterns.SkipToLast: "skip_to_last"}

func name[T ~uint8](names []string, v T) string {
	if int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprint(v)
}

func stepsJSON(steps []*patterns.Step) []*stepJSON {
	out := make([]*stepJSON, 0, len(steps))
	for _, s := range steps {
		j := &stepJSON{Name: s.Name, Contiguity: name(contiguityNames[:], s.Contiguity), Negation: name(negationNames[:], s.Negation),
			Min: 1, Max: 1, Where: s.Where, Until: s.Until, WithinMs: s.WithinMs, Line: s.Pos.Line}
		if q := s.Quantifier; q != nil {
			j.Min, j.Max, j.Optional, j.Greedy, j.RepeatMs = q.Min, q.Max, q.Optional, q.Greedy, q.WindowMs
			j.Inner = name(contiguityNames[:], q.Inner)
		}
		if s.IsGroup() {
			j.Group = stepsJSON(s.Group)
		}
		out = append(out, j)
	}
	return out
}

func explainJSON(c *rules.Compiled) map[string]any {
	r := c.Rule
	within := "first_and_last"
	if r.Pattern.WithinType == patterns.PreviousAndCurrent {
		within = "previous_and_current"
	}
	emits := []string{}
	for _, e := range r.Emit {
		emits = append(emits, e.Name)
	}
	return map[string]any{
		"id": r.ID, "name": r.Name, "version": c.Version, "key": r.Key, "severity": r.Severity,
		"steps": stepsJSON(r.Pattern.Steps), "within_ms": r.Pattern.WithinMs, "within_type": within,
		"skip": map[string]string{"kind": name(skipNames[:], r.Pattern.Skip.Kind), "step": r.Pattern.Skip.Step},
		"emit": emits, "timeouts": r.Timeouts, "states": c.Program.NumStates(),
		"pattern_text": r.Pattern.String(), "nfa_text": c.Program.String(),
	}
}

// serveRuleStats answers, per rule the engine runs, its live partial matches, alerts and
// evaluation errors: what the rules list shows to anyone who may read rules (the full
// GetStats needs the manage capability).
func serveRuleStats(w http.ResponseWriter, r *http.Request, eng uiEngine, admin *service.Admin) {
	type ruleStat struct {
		ID                 string `json:"id"`
		Alerts             uint64 `json:"alerts"`
		LivePartialMatches int64  `json:"live_partial_matches"`
		EvalErrors         uint64 `json:"eval_errors"`
		LastEvalError      string `json:"last_eval_error,omitempty"`
	}
	byID := map[string]*ruleStat{}
	list := []*ruleStat{}
	if eng != nil {
		for _, c := range eng.Rules().Rules {
			s := &ruleStat{ID: c.Rule.ID, EvalErrors: c.EvalErrors(), LastEvalError: c.LastEvalError()}
			byID[s.ID] = s
			list = append(list, s)
		}
	}
	if st, err := admin.GetStats(r.Context(), nil); err == nil {
		for _, rs := range st.GetRules() {
			if s := byID[rs.GetId()]; s != nil {
				s.Alerts, s.LivePartialMatches = uint64(rs.GetAlerts()), rs.GetLivePartialMatches()
			}
		}
	}
	writeJSON(w, map[string]any{"rules": list})
}
