package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/api/auth"
	"github.com/cepd/cepd/api/service"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/ruletest"
	"github.com/cepd/cepd/source/rest"
)

// maxRuleTestEvents bounds the inline events of one POST /v1/rules:test request.
const maxRuleTestEvents = service.MaxTestEvents

// ruleTestRequest is the body of POST /v1/rules:test: a rule's source and its test file's
// text (the format of NAME.test.yaml; events inline only, no events_file).
type ruleTestRequest struct {
	Source string `json:"source"`
	Tests  string `json:"tests"`
}

type ruleTestCase struct {
	Name     string          `json:"name"`
	Line     int             `json:"line"`
	Passed   bool            `json:"passed"`
	Problems []string        `json:"problems"`
	Alerts   []*alerts.Alert `json:"alerts"`
}

type ruleTestResponse struct {
	Passed int            `json:"passed"`
	Failed int            `json:"failed"`
	Cases  []ruleTestCase `json:"cases"`
}

type positionedError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// ruleTestRoute registers POST /v1/rules:test: it runs a draft rule's tests as cepd test
// does (ruletest.Run: the production compiler and engine) and answers with each case's
// outcome, what differs and the alerts raised. A rule or test file with problems is a 400
// with every problem's file ("rule.yaml", "rule.test.yaml"), line and column. It needs
// the Backtest capability.
func ruleTestRoute(mux *http.ServeMux, compiler func() (*event.Schema, *rules.Env), tokens *auth.Tokens, maxBody int64) {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req ruleTestRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			rest.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": "the body must be {\"source\": RULE YAML, \"tests\": TEST YAML}: " + err.Error()})
			return
		}
		if req.Source == "" || req.Tests == "" {
			rest.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": "source (the rule) and tests (its test file) are both needed"})
			return
		}
		schema, env := compiler()
		results, err := ruletest.RunInline(r.Context(), []byte(req.Source), []byte(req.Tests), schema, env, ruletest.InlineOptions{MaxEvents: maxRuleTestEvents})
		if err != nil {
			var ie *ruletest.InputError
			var el patterns.ErrorList
			switch {
			case errors.As(err, &ie) && errors.As(ie.Err, &el):
				rest.WriteJSON(w, http.StatusBadRequest, map[string]any{"errors": positioned(ie.File, ie.Err)})
			case ie != nil:
				rest.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": ie.Err.Error()})
			default:
				rest.WriteJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			}
			return
		}
		resp := ruleTestResponse{Cases: []ruleTestCase{}}
		for _, res := range results {
			c := ruleTestCase{Name: res.Case, Line: res.Pos.Line, Passed: res.Passed(), Problems: res.Problems, Alerts: res.Alerts}
			if c.Problems == nil {
				c.Problems = []string{}
			}
			if c.Alerts == nil {
				c.Alerts = []*alerts.Alert{}
			}
			if c.Passed {
				resp.Passed++
			} else {
				resp.Failed++
			}
			resp.Cases = append(resp.Cases, c)
		}
		rest.WriteJSON(w, http.StatusOK, resp)
	})
	if tokens.Enabled() {
		h = tokens.HTTP(auth.Backtest, h)
	}
	mux.Handle("POST /v1/rules:test", h)
}

// positioned lists err's problems with their positions.
func positioned(file string, err error) []positionedError {
	var out []positionedError
	for _, e := range rules.Errors(file, err) {
		out = append(out, positionedError{File: e.File, Line: e.Pos.Line, Column: e.Pos.Col, Message: e.Msg})
	}
	return out
}
