package rest

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/defaults"
	"github.com/cepd/cepd/state/ingestlog"
)

// Engine is what the server needs of the runtime.
type Engine interface {
	// Submit hands the records to matching, in the order of calls, and returns how to
	// wait for each one's outcome.
	Submit(ctx context.Context, partition int, recs []engine.Record) (engine.Outcomes, []engine.RecordError, error)
	Stats() *engine.Stats
	Watermark() int64
}

// Config configures the server.
type Config struct {
	// MaxBody bounds a request body (default 16 MiB).
	MaxBody int64
	// MaxEvents bounds the events of one request (default DefaultMaxEvents): a larger
	// request is refused whole (413), before any event is kept.
	MaxEvents int
	// MaxConcurrent bounds the ingest requests handled at once (default
	// DefaultMaxConcurrent); one more is refused at once (429, ErrBusy) rather than queued.
	MaxConcurrent int
	// Partition is the engine partition REST ingest feeds (default 0).
	Partition int
	// LastOffset is the offset of the last event ingested before (after a restart, the
	// restored checkpoint's); REST events are numbered on from it.
	LastOffset int64
	// NoIngest, when set, turns REST ingest off, saying why (409 Conflict): an instance
	// consuming Kafka takes its events from the topics only, as the state of a REST
	// partition would belong to this instance alone.
	NoIngest string
	// Log, if set, keeps every event before it is matched and before the request is
	// answered, so that a crash loses none: after a restart the events the last
	// checkpoint does not cover are matched again from it (see ingestlog).
	Log EventLog
}

// EventLog is the write-ahead log REST ingest writes to (an *ingestlog.Log): Write in
// request order, Sync before answering (concurrent requests share fsyncs).
type EventLog interface {
	Write(recs []ingestlog.Record) error
	Sync() error
}

// Defaults of Config.
const (
	DefaultMaxEvents     = 10000
	DefaultMaxConcurrent = 8
)

// Errors of Ingest a caller maps to its protocol (REST: 429 and 413).
var (
	ErrBusy      = errors.New("too many ingest requests at once: try again shortly")
	ErrTooLarge  = errors.New("too many events in one request")
	errNoEvents  = errors.New("empty body: send a JSON array of events or one JSON event per line")
	errNotArray  = errors.New("body is not a valid JSON array")
	errIngestOff = errors.New("ingest is off")
)

// Server serves the embedded-mode HTTP API.
type Server struct {
	mu     sync.Mutex // orders requests: offsets, log and engine see them in one order
	sem    chan struct{}
	cfg    Config
	eng    Engine
	ring   *alerts.Ring
	log    *slog.Logger
	health func() (string, error)
	offset atomic.Int64
	// ingestErr is why the last ingest request could not keep its events ("" after one
	// that could): health reports it, as no other component sees it.
	ingestErr atomic.Pointer[string]
}

// New returns a server. health, if not nil, reports degraded components.
func New(cfg Config, eng Engine, ring *alerts.Ring, log *slog.Logger, health func() (string, error)) *Server {
	defaults.Positive(&cfg.MaxBody, 16<<20)
	defaults.Positive(&cfg.MaxEvents, DefaultMaxEvents)
	defaults.Positive(&cfg.MaxConcurrent, DefaultMaxConcurrent)
	s := &Server{cfg: cfg, eng: eng, ring: ring, log: log, health: health, sem: make(chan struct{}, cfg.MaxConcurrent)}
	s.offset.Store(max(cfg.LastOffset, 0))
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/events", s.ingest)
	mux.HandleFunc("GET /v1/alerts", s.alerts)
	mux.HandleFunc("GET /v1/stats", s.stats)
	mux.HandleFunc("GET /healthz", s.healthz)
	return mux
}

type errorBody struct {
	Error string `json:"error"`
}

// WriteJSON answers with status code and v as JSON (HTML characters left as they are),
// as every handler of the REST API does.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// IngestResponse is the answer to POST /v1/events. It is written once every event has
// been handled: Events[i] says what happened to the request's event i (matched,
// rematched, late_dead_lettered, late_dropped, late_processed or rejected), and the
// alerts the events completed have left.
type IngestResponse struct {
	// Accepted counts the events matched (in order, re-matched, or late and processed).
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	// Late counts the events not matched because they were too late (dead-lettered or
	// dropped, as Events says).
	Late   int                  `json:"late"`
	Events []engine.Outcome     `json:"events"`
	Errors []engine.RecordError `json:"errors"`
	Note   string               `json:"note,omitempty"`
}

// acquire takes one of the concurrent-ingest slots, or reports ErrBusy.
func (s *Server) acquire() (release func(), err error) {
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem }, nil
	default:
		return nil, fmt.Errorf("%w (%d at most)", ErrBusy, s.cfg.MaxConcurrent)
	}
}

func (s *Server) ingest(w http.ResponseWriter, r *http.Request) {
	if s.cfg.NoIngest != "" {
		WriteJSON(w, http.StatusConflict, errorBody{s.cfg.NoIngest})
		return
	}
	release, err := s.acquire()
	if err != nil {
		w.Header().Set("Retry-After", "1")
		WriteJSON(w, http.StatusTooManyRequests, errorBody{err.Error()})
		return
	}
	defer release()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			WriteJSON(w, http.StatusRequestEntityTooLarge, errorBody{fmt.Sprintf("request body larger than %d bytes", s.cfg.MaxBody)})
			return
		}
		WriteJSON(w, http.StatusBadRequest, errorBody{"reading body: " + err.Error()})
		return
	}
	recs, err := splitEvents(body, s.cfg.MaxEvents)
	if errors.Is(err, ErrTooLarge) {
		WriteJSON(w, http.StatusRequestEntityTooLarge, errorBody{err.Error()})
		return
	}
	if err != nil {
		WriteJSON(w, http.StatusBadRequest, errorBody{err.Error()})
		return
	}
	code, resp := s.accept(r.Context(), recs)
	WriteJSON(w, code, resp)
}

// Ingest accepts events exactly as POST /v1/events does (same offsets, log and order): the
// gRPC Events service's path. It returns each event's outcome and the rejected events, or
// why none was accepted.
func (s *Server) Ingest(ctx context.Context, events []json.RawMessage) ([]engine.Outcome, []engine.RecordError, error) {
	if s.cfg.NoIngest != "" {
		return nil, nil, fmt.Errorf("%w: %s", errIngestOff, s.cfg.NoIngest)
	}
	if len(events) > s.cfg.MaxEvents {
		return nil, nil, fmt.Errorf("%w: %d events, %d at most", ErrTooLarge, len(events), s.cfg.MaxEvents)
	}
	release, err := s.acquire()
	if err != nil {
		return nil, nil, err
	}
	defer release()
	recs := make([]engine.Record, len(events))
	for i, e := range events {
		recs[i].Value = e
	}
	switch code, resp := s.accept(ctx, recs); r := resp.(type) {
	case IngestResponse:
		return r.Events, r.Errors, nil
	case errorBody:
		return nil, nil, errors.New(r.Error)
	default:
		return nil, nil, fmt.Errorf("ingest answered %d", code)
	}
}

// accept logs and matches one request's records, in the order of requests, and makes
// them durable before it returns.
func (s *Server) accept(ctx context.Context, recs []engine.Record) (int, any) {
	wait, errs, code, body := s.submit(ctx, recs, s.eng.Submit)
	if wait == nil {
		return code, body
	}
	if s.cfg.Log != nil {
		ctx = context.WithoutCancel(ctx) // logged events are matched whole even if the client goes away
	}
	out, err := wait(ctx)
	if err != nil {
		return http.StatusServiceUnavailable, errorBody{"waiting for the events to be matched: " + err.Error()}
	}
	if errs == nil {
		errs = []engine.RecordError{}
	}
	resp := IngestResponse{Rejected: len(errs), Events: out, Errors: errs}
	resp.Accepted, resp.Late = engine.Tally(out)
	return http.StatusOK, resp
}

// submitFunc hands records to matching (engine.Engine's Submit, or a collecting one).
type submitFunc func(ctx context.Context, partition int, recs []engine.Record) (engine.Outcomes, []engine.RecordError, error)

// submit numbers, logs and submits one request's records, in the order of requests, and
// makes them durable before it returns how to wait for them; without it (nil), the
// status and body to answer with.
func (s *Server) submit(ctx context.Context, recs []engine.Record, fn submitFunc) (engine.Outcomes, []engine.RecordError, int, any) {
	s.mu.Lock()
	base := s.offset.Load()
	for i := range recs {
		recs[i].Offset = base + int64(i) + 1
	}
	if s.cfg.Log != nil {
		logged := make([]ingestlog.Record, len(recs))
		for i, rec := range recs {
			logged[i] = ingestlog.Record{Offset: rec.Offset, Value: rec.Value}
		}
		if err := s.cfg.Log.Write(logged); err != nil {
			s.mu.Unlock()
			s.ingestFailed(err)
			s.log.Error("ingest log: events not accepted", "err", err)
			return nil, nil, http.StatusServiceUnavailable, errorBody{"the ingest log could not keep the events (nothing was accepted): " + err.Error()}
		}
		ctx = context.WithoutCancel(ctx) // logged events are matched whole even if the client goes away
	}
	s.offset.Store(base + int64(len(recs)))
	wait, errs, err := fn(ctx, s.cfg.Partition, recs)
	s.mu.Unlock()
	if err != nil && s.cfg.Log != nil && s.cfg.Log.Sync() == nil {
		// The engine is stopping; the events are kept and will be matched at the next
		// start. A resent copy would be matched twice: say they are accepted.
		return nil, nil, http.StatusAccepted, IngestResponse{Accepted: len(recs), Errors: []engine.RecordError{},
			Note: "the engine is stopping: the events are kept in the ingest log and will be matched after the restart (do not send them again)"}
	}
	if err != nil {
		return nil, nil, http.StatusServiceUnavailable, errorBody{"engine: " + err.Error()}
	}
	if s.cfg.Log != nil {
		// Durable before the answer. Written first and synced after matching, so that
		// concurrent requests share an fsync: only a power cut, not a crash of cepd, can
		// lose what was written and not yet synced, and such a request was not answered.
		if err := s.cfg.Log.Sync(); err != nil {
			s.ingestFailed(err)
			s.log.Error("ingest log: sync failed", "err", err)
			return nil, nil, http.StatusServiceUnavailable, errorBody{"the ingest log could not make the events durable: " + err.Error()}
		}
	}
	if p := s.ingestErr.Load(); p != nil && *p != "" {
		empty := ""
		s.ingestErr.Store(&empty)
	}
	return wait, errs, 0, nil
}

// splitEvents accepts a JSON array of events or newline-delimited JSON, of at most max
// events (ErrTooLarge beyond, found before more than max are held). Elements are passed
// on as raw bytes: each is decoded (and rejected on its own) by the engine.
func splitEvents(body []byte, max int) ([]engine.Record, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errNoEvents
	}
	tooMany := fmt.Errorf("%w: more than %d events (split the batch)", ErrTooLarge, max)
	if trimmed[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("%w: %v", errNotArray, err)
		}
		var recs []engine.Record
		for dec.More() {
			if len(recs) == max {
				return nil, tooMany
			}
			var m json.RawMessage
			if err := dec.Decode(&m); err != nil {
				return nil, fmt.Errorf("%w: %v", errNotArray, err)
			}
			recs = append(recs, engine.Record{Value: m})
		}
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("%w: %v", errNotArray, err)
		}
		if dec.More() || dec.InputOffset() != int64(len(trimmed)) {
			return nil, fmt.Errorf("%w: unexpected data after the array", errNotArray)
		}
		return recs, nil
	}
	var recs []engine.Record
	sc := bufio.NewScanner(bytes.NewReader(trimmed))
	sc.Buffer(make([]byte, 64<<10), len(trimmed)+1)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if len(recs) == max {
			return nil, tooMany
		}
		recs = append(recs, engine.Record{Value: append([]byte(nil), line...)})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return recs, nil
}

func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := alerts.Filter{RuleID: q.Get("rule_id"), Key: q.Get("key"), Kind: q.Get("kind")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 || n > 10000 {
			WriteJSON(w, http.StatusBadRequest, errorBody{"limit must be a whole number from 0 to 10000"})
			return
		}
		f.Limit = n
	}
	list := s.ring.Query(f)
	if list == nil {
		list = []*alerts.Alert{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"alerts": list})
}

func (s *Server) stats(w http.ResponseWriter, _ *http.Request) {
	out := map[string]any{"stats": s.eng.Stats().Snapshot()}
	if wm := s.eng.Watermark(); wm != math.MinInt64 { // absent before any event and while all partitions idle
		out["watermark"] = wm
	}
	WriteJSON(w, http.StatusOK, out)
}

func (s *Server) ingestFailed(err error) {
	msg := "ingest failing: " + err.Error()
	s.ingestErr.Store(&msg)
}

// Check is one named component of the health answer.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok, degraded or down
	Detail string `json:"detail,omitempty"`
}

// Checks returns the state of each component: the engine's (the health function given
// to New) and REST ingest's (whether the last request could keep its events).
func (s *Server) Checks() []Check {
	var out []Check
	if s.health != nil {
		st, err := s.health()
		c := Check{Name: "engine", Status: cmp.Or(st, "ok")}
		if err != nil {
			c.Detail = err.Error()
		}
		out = append(out, c)
	}
	c := Check{Name: "ingest", Status: "ok"}
	if p := s.ingestErr.Load(); p != nil && *p != "" {
		c.Status, c.Detail = "degraded", *p
	}
	return append(out, c)
}

// rank orders health states, worst last.
func rank(status string) int {
	switch status {
	case "ok":
		return 0
	case "degraded":
		return 1
	}
	return 2
}

// Health returns the worst status of the checks and their details, joined: what
// /healthz and the gRPC Admin GetHealth answer.
func (s *Server) Health() (status, detail string) {
	status, detail, _ = s.summary()
	return status, detail
}

func (s *Server) summary() (status, detail string, checks []Check) {
	checks = s.Checks()
	status = "ok"
	for _, c := range checks {
		if rank(c.Status) > rank(status) {
			status = c.Status
		}
		if c.Detail != "" {
			if detail != "" {
				detail += "; "
			}
			detail += c.Detail
		}
	}
	return status, detail, checks
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	status, detail, checks := s.summary()
	code := http.StatusOK
	if status == "down" {
		code = http.StatusServiceUnavailable
	}
	WriteJSON(w, code, map[string]any{"status": status, "detail": detail, "checks": checks, "time": time.Now().UTC().Format(time.RFC3339)})
}
