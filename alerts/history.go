package alerts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// HistoryOptions bounds a History. The zero value keeps 10,000 alerts of the last day.
type HistoryOptions struct {
	// MaxAlerts is how many alerts are kept at most, the newest (default 10,000).
	MaxAlerts int
	// MaxAge: alerts made longer ago than this are dropped (default 24h). An alert's age
	// is counted from DetectedAt, or from its last event's time when it has none.
	MaxAge time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// History keeps the recent alerts in a JSON-lines file, so that they are shown again
// after a restart: OpenHistory reads the file back, each alert id once, keeps the newest
// MaxAlerts no older than MaxAge and rewrites the file with them; every new alert is then
// appended, unless its id is already there (an alert derived again after a crash). The
// file is rewritten the same way whenever it holds twice MaxAlerts alerts, so it stays
// bounded. It is the analysts' view, not a delivery: writes are not synced, and a crash
// may lose the last lines (a torn line is skipped when the file is read).
//
// History is a Sink, safe for concurrent use; it keeps the alerts it holds in memory
// (shared, never modified). Write errors are counted and the first is kept (Failures).
type History struct {
	path string
	opts HistoryOptions

	mu     sync.Mutex
	f      *os.File
	kept   []*Alert        // oldest first, as in the file
	ids    map[string]bool // ids of kept
	errs   int
	err    error
	closed bool
}

// OpenHistory opens (creating it and its directory if needed) the history file at path
// and returns it with the alerts it holds, oldest first.
func OpenHistory(path string, opts HistoryOptions) (*History, []*Alert, error) {
	if opts.MaxAlerts <= 0 {
		opts.MaxAlerts = 10000
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, fmt.Errorf("alert history: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("alert history: %w", err)
	}
	h := &History{path: path, opts: opts, ids: map[string]bool{}}
	for _, l := range bytes.Split(data, []byte{'\n'}) {
		var a Alert
		if json.Unmarshal(l, &a) == nil && a.ID != "" && !h.ids[a.ID] {
			h.ids[a.ID] = true
			h.kept = append(h.kept, &a)
		}
	}
	if err := h.rewrite(); err != nil {
		return nil, nil, fmt.Errorf("alert history: %w", err)
	}
	return h, append([]*Alert(nil), h.kept...), nil
}

// made is when a was made: DetectedAt, or its last event's time.
func made(a *Alert) time.Time {
	if a.DetectedAt != nil {
		return *a.DetectedAt
	}
	return a.LastEventTime
}

// rewrite keeps the newest MaxAlerts alerts no older than MaxAge and writes them to a
// new file, renamed over the old one, which it then appends to. Callers hold mu (or own h).
func (h *History) rewrite() error {
	cut := h.opts.Now().Add(-h.opts.MaxAge)
	from := max(0, len(h.kept)-h.opts.MaxAlerts)
	kept := make([]*Alert, 0, len(h.kept)-from)
	ids := make(map[string]bool, len(h.kept)-from)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, a := range h.kept[from:] {
		if made(a).Before(cut) {
			continue
		}
		if err := enc.Encode(a); err != nil {
			return err
		}
		kept = append(kept, a)
		ids[a.ID] = true
	}
	tmp := h.path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, h.path); err != nil {
		os.Remove(tmp)
		return err
	}
	f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if h.f != nil {
		h.f.Close()
	}
	h.f, h.kept, h.ids = f, kept, ids
	return nil
}

// Alert appends a to the history unless its id is there already.
func (h *History) Alert(a *Alert) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.ids[a.ID] {
		return
	}
	b, err := json.Marshal(a)
	if err == nil {
		_, err = h.f.Write(append(b, '\n'))
	}
	if err == nil {
		h.kept = append(h.kept, a)
		h.ids[a.ID] = true
		if len(h.kept) >= 2*h.opts.MaxAlerts {
			if err = h.rewrite(); err != nil {
				h.forget() // the file grows until a rewrite succeeds; memory and retries stay bounded
			}
		}
	}
	if err != nil {
		h.errs++
		if h.err == nil {
			h.err = fmt.Errorf("alert history %s: %w", h.path, err)
		}
	}
}

// forget keeps only the newest MaxAlerts alerts in memory after a failed rewrite, so that
// the next rewrite is tried MaxAlerts alerts later, not at every alert. Callers hold mu.
func (h *History) forget() {
	h.kept = slices.Clone(h.kept[len(h.kept)-h.opts.MaxAlerts:])
	h.ids = make(map[string]bool, len(h.kept))
	for _, a := range h.kept {
		h.ids[a.ID] = true
	}
}

// Failures returns how many writes failed and the first error.
func (h *History) Failures() (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.errs, h.err
}

// Close closes the file; later alerts are not kept.
func (h *History) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	return h.f.Close()
}
