package workload

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"
)

// Generator produces one synthetic stream. It is not safe for concurrent use; make one
// per goroutine (each with its own Config).
type Generator struct {
	cfg   Config
	r     *rand.Rand
	cards []card
	merch *merchants
	catW  []float64

	pending queue // created, not yet written, by (ts, seq)
	late    []*ev // taken from pending, held back until the stream passes their release
	free    []*ev // recycled events
	scratch []*ev // the activity being built

	clock    float64 // event time of the next candidate activity, epoch ms
	candRate float64 // candidate activities per ms (before thinning)
	seq      uint64
	created  int64
	labelled int64
	emitted  int64
	stopped  bool
	filling  bool // the budget is nearly spent: only one-event activities fit

	nextAuth   uint64
	nextDevice uint64
	scen       []int // enabled scenario indices
	scenNext   int   // round-robin position in scen

	stats  Stats
	tsDay  int64  // the day tsDate formats (appendTS's cache)
	tsDate []byte // "2006-01-02T" of tsDay
}

// Stats describes what a Generator wrote so far.
type Stats struct {
	Events   int64 // events written
	Labelled int64 // of which belong to fraud scenarios
	Late     int64 // of which were written late
	// Scenarios counts injected fraud scenarios (instances and events) by name, in
	// ScenarioNames order.
	Scenarios []ScenarioCount
	// First and Last are the smallest and largest event times written.
	First, Last time.Time
}

// ScenarioCount is how often one fraud scenario was injected.
type ScenarioCount struct {
	Name      string
	Instances int
	Events    int
}

// New returns a generator for cfg (zero Start, MaxLateness and ActivitiesPerCardPerDay
// take DefaultConfig's values).
func New(cfg Config) (*Generator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Generator{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15^cfg.Seed))}
	g.newCards(g.r, cfg.Cards)
	g.merch = newMerchants(g.r, cfg.Cards)
	g.catW = make([]float64, len(categories))
	for i, c := range categories {
		g.catW[i] = c.weight
	}
	if len(cfg.Scenarios) == 0 {
		for i := range scenarios {
			g.scen = append(g.scen, i)
		}
	} else {
		for _, s := range cfg.Scenarios {
			g.scen = append(g.scen, scenarioIndex(s))
		}
	}
	g.stats.Scenarios = make([]ScenarioCount, len(scenarios))
	for i, s := range scenarios {
		g.stats.Scenarios[i].Name = s.name
	}
	// Candidates arrive as a Poisson process; each is kept with probability
	// rhythm(local hour) × card activity, so the kept rate averages
	// cards × ActivitiesPerCardPerDay.
	meanRhythm := 0.0
	for _, w := range dailyRhythm {
		meanRhythm += w / 24
	}
	const meanActivity = 0.65
	g.candRate = float64(cfg.Cards) * cfg.ActivitiesPerCardPerDay / 86400e3 / (meanRhythm * meanActivity)
	g.clock = float64(cfg.Start.UnixMilli())
	g.stopped = cfg.Events == 0
	return g, nil
}

// Config returns the configuration in use (defaults filled in).
func (g *Generator) Config() Config { return g.cfg }

// Stats returns counts of what has been written so far.
func (g *Generator) Stats() Stats {
	s := g.stats
	s.Scenarios = append([]ScenarioCount(nil), s.Scenarios...)
	return s
}

// Next appends the next event, one JSON object and a newline, to buf. It returns buf
// unchanged and false once Config.Events events have been written.
func (g *Generator) Next(buf []byte) ([]byte, bool) {
	e := g.next()
	if e == nil {
		return buf, false
	}
	g.emitted++
	buf = g.encode(buf, e, uint64(g.emitted))
	g.account(e)
	g.free = append(g.free, e)
	return buf, true
}

// Lines generates the whole stream of cfg in memory: each event's JSON object, without
// its newline, in written order.
func Lines(cfg Config) ([][]byte, error) {
	g, err := New(cfg)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for {
		line, ok := g.Next(nil)
		if !ok {
			return out, nil
		}
		out = append(out, line[:len(line)-1])
	}
}

// WriteTo writes the whole remaining stream to w.
func (g *Generator) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var n int64
	buf := make([]byte, 0, 1024)
	for {
		var ok bool
		buf, ok = g.Next(buf[:0])
		if !ok {
			break
		}
		m, err := bw.Write(buf)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, bw.Flush()
}

func (g *Generator) account(e *ev) {
	s := &g.stats
	s.Events++
	if e.label >= 0 {
		s.Labelled++
	}
	if e.release != 0 {
		s.Late++
	}
	t := time.UnixMilli(e.ts).UTC()
	if s.First.IsZero() || t.Before(s.First) {
		s.First = t
	}
	if t.After(s.Last) {
		s.Last = t
	}
}

// next returns the next event to write, or nil at the end.
func (g *Generator) next() *ev {
	for {
		g.fill()
		top := g.pending.peek()
		if i := g.firstLate(); i >= 0 && (top == nil || g.late[i].release <= top.ts) {
			e := g.late[i]
			g.late = append(g.late[:i], g.late[i+1:]...)
			return e
		}
		if top == nil {
			return nil
		}
		g.pending.pop()
		if g.cfg.LateRate > 0 && g.r.Float64() < g.cfg.LateRate {
			// Held back until the stream reaches ts + lateness: every event written
			// before it is less than MaxLateness younger.
			e := top
			e.release = e.ts + 1 + g.r.Int64N(g.cfg.MaxLateness.Milliseconds())
			g.late = append(g.late, e)
			continue
		}
		return top
	}
}

// firstLate is the held-back event to release first (smallest release, then seq), or -1.
func (g *Generator) firstLate() int {
	best := -1
	for i, e := range g.late {
		if best < 0 || e.release < g.late[best].release || e.release == g.late[best].release && e.seq < g.late[best].seq {
			best = i
		}
	}
	return best
}

// fill creates activities until the earliest pending event can no longer be preceded by
// a new one (activities only create events at or after their start).
func (g *Generator) fill() {
	for !g.stopped {
		if top := g.pending.peek(); top != nil && int64(g.clock) >= top.ts {
			return
		}
		g.activity()
	}
}

// newEv starts an event of the activity being built.
func (g *Generator) newEv(ts int64, cardIdx int32, typ evType, label int8) *ev {
	var e *ev
	if n := len(g.free); n > 0 {
		e = g.free[n-1]
		g.free = g.free[:n-1]
	} else {
		e = new(ev)
	}
	e.reset()
	e.ts, e.card, e.typ, e.label = ts, cardIdx, typ, label
	g.scratch = append(g.scratch, e)
	return e
}

// commit queues the activity built in scratch if it fits in the event budget, and
// reports whether it did.
func (g *Generator) commit() bool {
	n := int64(len(g.scratch))
	if n == 0 {
		return true
	}
	if g.created+n > g.cfg.Events {
		g.free = append(g.free, g.scratch...)
		g.scratch = g.scratch[:0]
		g.filling = true
		return false
	}
	for _, e := range g.scratch {
		g.seq++
		e.seq = g.seq
		g.pending.push(e)
		if e.label >= 0 {
			g.labelled++
		}
	}
	g.created += n
	g.scratch = g.scratch[:0]
	if g.created == g.cfg.Events {
		g.stopped = true
	}
	return true
}

// activity draws the next candidate activity and, if the thinning keeps it, builds it.
func (g *Generator) activity() {
	r := g.r
	g.clock += r.ExpFloat64() / g.candRate
	t := int64(g.clock)
	ci := int32(r.IntN(len(g.cards)))
	c := &g.cards[ci]
	if r.Float64() >= dailyRhythm[localHour(t, cities[c.city].tzMin)]*c.activity {
		return
	}
	if g.filling {
		g.login(t, ci, c, false)
		g.commit()
		return
	}
	// A scenario starts (on a random 5% of activities) whenever the labelled share,
	// counting a typical scenario's six events ahead, is below the target.
	if g.cfg.FraudRate > 0 && float64(g.labelled+6) <= g.cfg.FraudRate*float64(g.created) && r.Float64() < 0.05 {
		si := g.scen[g.scenNext%len(g.scen)]
		if scenarios[si].inject(g, t, ci, int8(si)) {
			n := len(g.scratch)
			if g.commit() {
				g.scenNext++
				g.stats.Scenarios[si].Instances++
				g.stats.Scenarios[si].Events += n
			}
			return
		}
		g.free = append(g.free, g.scratch...)
		g.scratch = g.scratch[:0]
	}
	g.genuine(t, ci, c)
	g.commit()
}

// WriteFile writes the whole stream cfg describes to the file at path (created or
// truncated) and returns the configuration with its defaults filled in.
func WriteFile(path string, cfg Config) (Config, error) {
	g, err := New(cfg)
	if err != nil {
		return Config{}, err
	}
	f, err := os.Create(path)
	if err != nil {
		return Config{}, fmt.Errorf("workload: %w", err)
	}
	if _, err := g.WriteTo(f); err != nil {
		f.Close()
		return Config{}, fmt.Errorf("workload: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return Config{}, fmt.Errorf("workload: write %s: %w", path, err)
	}
	return g.Config(), nil
}
