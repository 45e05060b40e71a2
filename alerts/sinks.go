package alerts

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"sync"

	"github.com/cepd/cepd/internal/logfile"
)

// Ring keeps the most recent alerts in memory for the API. Safe for concurrent use.
type Ring struct {
	mu   sync.RWMutex
	buf  []*Alert
	next int
	full bool
	subs map[chan *Alert]struct{}
}

// NewRing returns a ring holding up to n alerts.
func NewRing(n int) *Ring {
	if n <= 0 {
		n = 10000
	}
	return &Ring{buf: make([]*Alert, n), subs: map[chan *Alert]struct{}{}}
}

// Alert stores a (newest first evicting the oldest) and offers it to subscribers; a
// subscriber that is not keeping up misses alerts rather than slowing matching.
func (r *Ring) Alert(a *Alert) {
	r.mu.Lock()
	r.buf[r.next] = a
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
	for ch := range r.subs {
		select {
		case ch <- a:
		default:
		}
	}
	r.mu.Unlock()
}

// Filter selects alerts; zero fields match everything.
type Filter struct {
	RuleID string
	Key    string
	Kind   string
	Limit  int // at most this many, newest first (0 = 100)
}

// Query returns matching alerts, newest first.
func (r *Ring) Query(f Filter) []*Alert {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := r.next
	if r.full {
		n = len(r.buf)
	}
	var out []*Alert
	for i := 0; i < n && len(out) < f.Limit; i++ {
		a := r.buf[(r.next-1-i+len(r.buf))%len(r.buf)]
		if a == nil || (f.RuleID != "" && a.RuleID != f.RuleID) || (f.Key != "" && a.Key != f.Key) || (f.Kind != "" && a.Kind != f.Kind) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// Subscribe returns a channel of new alerts (buffered; a slow reader misses alerts) and
// a function that ends the subscription.
func (r *Ring) Subscribe(buffer int) (<-chan *Alert, func()) {
	ch := make(chan *Alert, buffer)
	r.mu.Lock()
	r.subs[ch] = struct{}{}
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		delete(r.subs, ch)
		r.mu.Unlock()
	}
}

// SubscribeAfter is Subscribe that also returns, oldest first, the alerts the ring holds
// that came after the alert with id lastID (found reports whether the ring still holds
// it; if not, the backlog is empty). Backlog and subscription are taken at one moment, so
// a resuming reader sees each alert once.
func (r *Ring) SubscribeAfter(lastID string, buffer int) (backlog []*Alert, found bool, ch <-chan *Alert, stop func()) {
	c := make(chan *Alert, buffer)
	r.mu.Lock()
	n := r.next
	if r.full {
		n = len(r.buf)
	}
	if lastID == "" {
		n = 0 // nothing to resume from: no walk under the lock the alert path takes
	}
	for i := 0; i < n; i++ {
		a := r.buf[(r.next-1-i+len(r.buf))%len(r.buf)]
		if a == nil {
			continue
		}
		if a.ID == lastID {
			found = true
			break
		}
		backlog = append(backlog, a)
	}
	if !found {
		backlog = nil
	}
	r.subs[c] = struct{}{}
	r.mu.Unlock()
	for i, j := 0, len(backlog)-1; i < j; i, j = i+1, j-1 {
		backlog[i], backlog[j] = backlog[j], backlog[i]
	}
	return backlog, found, c, func() {
		r.mu.Lock()
		delete(r.subs, c)
		r.mu.Unlock()
	}
}

// JSONLines writes each alert as one line of JSON, flushed at once (alerts must leave
// within milliseconds). Safe for concurrent use. Write errors are counted, and the first
// is kept.
type JSONLines struct {
	mu   sync.Mutex
	w    *bufio.Writer
	enc  *json.Encoder
	errs int
	err  error
}

// NewJSONLines writes to w.
func NewJSONLines(w io.Writer) *JSONLines {
	bw := bufio.NewWriter(w)
	return &JSONLines{w: bw, enc: lineEncoder(bw)}
}

// WriteLines writes list to w as JSON lines, each as JSONLines writes it.
func WriteLines(w io.Writer, list []*Alert) error {
	enc := lineEncoder(w)
	for _, a := range list {
		if err := enc.Encode(a); err != nil {
			return err
		}
	}
	return nil
}

// lineEncoder encodes alerts to w one JSON line each, with <, > and & as they are.
func lineEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// Alert writes a.
func (j *JSONLines) Alert(a *Alert) {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.enc.Encode(a)
	if err == nil {
		err = j.w.Flush()
	}
	if err != nil {
		j.errs++
		if j.err == nil {
			j.err = err
		}
	}
}

// Failures returns how many writes failed and the first error.
func (j *JSONLines) Failures() (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.errs, j.err
}

// Collector is a Sink that keeps every alert it is handed (for bounded inputs: a
// replay, a rule's tests). Safe for concurrent use.
type Collector struct {
	mu     sync.Mutex
	alerts []*Alert
}

// Alert keeps a.
func (c *Collector) Alert(a *Alert) {
	c.mu.Lock()
	c.alerts = append(c.alerts, a)
	c.mu.Unlock()
}

// All returns the alerts kept so far, in the order they came.
func (c *Collector) All() []*Alert {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Alert(nil), c.alerts...)
}

// Len returns how many alerts were kept.
func (c *Collector) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.alerts)
}

// Sorted returns the alerts ordered by Before (last event time, then rule, kind and id):
// an order that does not depend on shard count or scheduling.
func (c *Collector) Sorted() []*Alert {
	out := c.All()
	sort.Slice(out, func(i, j int) bool { return Before(out[i], out[j]) })
	return out
}

// Sink takes alerts: the engine hands every alert it makes to one (the Pipeline), and the
// pipeline hands them on to the ring, the history, the files, Kafka and webhooks.
//
// Alert is called from the engine's shard goroutines, concurrently; one key's alerts
// come from one goroutine, in the order they were made. The alert is shared and
// complete: a sink never modifies it (later sinks and the API read the same value).
// Alert may block: a slow sink is backpressure on matching, never a growing queue. It
// returns nothing; a sink counts its own failures (and, if it delivers asynchronously,
// offers a Flush the pipeline waits on before a checkpoint or an offset commit).
type Sink interface {
	Alert(a *Alert)
}

// Multi delivers every alert to each sink in turn.
type Multi []Sink

// Alert delivers a to every sink.
func (m Multi) Alert(a *Alert) {
	for _, s := range m {
		s.Alert(a)
	}
}

// Except hands next every alert whose id is not in known: the alerts an output already
// holds (read back at start-up) are not written to it again when a replay derives them
// once more. known is only read.
func Except(known map[string]bool, next Sink) Sink {
	if len(known) == 0 {
		return next
	}
	return except{known, next}
}

type except struct {
	known map[string]bool
	next  Sink
}

func (e except) Alert(a *Alert) {
	if !e.known[a.ID] {
		e.next.Alert(a)
	}
}

// ReadTail returns the alerts in the last maxBytes of a JSON-lines alerts file (as
// JSONLines writes it), oldest first: what a restart may derive again, and the recent
// alerts to show again. A missing file has none; a line cut by the window's start or by a
// crash is skipped.
func ReadTail(path string, maxBytes int64) ([]*Alert, error) {
	f, size, err := logfile.Open(path)
	if f == nil {
		return nil, err
	}
	defer f.Close()
	from := max(size-maxBytes, 0)
	data := make([]byte, size-from)
	if _, err := f.ReadAt(data, from); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if from > 0 { // the first line is probably cut
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	var out []*Alert
	for _, l := range bytes.Split(data, []byte{'\n'}) {
		var a Alert
		if json.Unmarshal(l, &a) == nil && a.ID != "" {
			out = append(out, &a)
		}
	}
	return out, nil
}

// IDs returns the set of the alerts' ids.
func IDs(list []*Alert) map[string]bool {
	ids := make(map[string]bool, len(list))
	for _, a := range list {
		ids[a.ID] = true
	}
	return ids
}
