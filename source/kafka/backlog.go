package kafka

import "time"

// backlogWatch tells the engine whether a claim's partition has unread records
// (Engine.SetBacklog). From the restore until the broker says the partition is read to
// its end, it has a backlog, and the engine never counts it idle: the other partitions'
// time must not close the windows of keys whose events are still unread (the engine does
// not count it idle while it restores either, and restarts its idle timer after). The
// end offset fetches report goes stale when fetches stall, so only an answer from the
// broker, asked when the claim received nothing for a check interval, clears the
// backlog. The question runs beside the claim's loop, on a client of its own, and a
// broker that does not answer it (stalled, or away) may be holding records back, so a
// question still unanswered a check interval and MaxWait after it was asked sets the
// backlog. A timer marks that moment, not the next check: with the defaults a claim
// silent since S asks by S+500ms and sets the backlog by S+850ms, before an idle timeout
// of 1 s can pass.
//
// The question is not the end offset but a fetch from the claim's next offset at its
// isolation level (Source.unread). A topic written in transactions (every repartition topic,
// and any topic whose producers use them) ends in commit markers, offsets no consumer
// receives, and read committed, an aborted transaction's records are never received
// either: read to its end, such a claim's next offset is short of the end offset by a
// marker or more, and asked for the end offset it kept a backlog for ever. The claim has
// a backlog while that fetch holds a record it would receive, or, read committed, while
// a transaction is open (its records may commit; committed records of one producer can
// also wait behind another's open transaction: TestRepartitionClaimBehindOpenTxn); an
// answer (1 MiB) ending short of the end with nothing received is asked on from where it
// ended (TestLargeAbortedTxnGoesIdle). After
// a batch, a high-water mark one past a repartition claim's next offset (the batch's own
// commit marker) is no backlog.
// Only the claim's goroutine uses it.
type backlogWatch struct {
	s        *Source
	c        *claim
	pos      *int64 // the claim's next offset to read
	slack    int64  // offsets past pos that a batch's high-water mark may hold without a backlog: 1 (its commit marker) for a repartition claim
	tick     *time.Ticker
	received bool           // records read since the last check
	asked    chan endAnswer // the question in flight (nil: none)
	overdue  *time.Timer    // fires when the question in flight counts as stalled
}

// endAnswer is the broker's answer to a claim's question: whether records wait past the
// offset the claim was at when it asked.
type endAnswer struct {
	backlog bool
	err     error
}

func (w *backlogWatch) set(backlog bool) error { return w.s.eng.SetBacklog(w.s.hard, w.c.id, backlog) }

// checked is a check interval's end: a claim that read nothing asks the broker whether
// records wait past its next offset (unless a question is in flight).
func (w *backlogWatch) checked() {
	defer func() { w.received = false }()
	if w.asked != nil || w.received {
		return
	}
	w.asked = make(chan endAnswer, 1)
	go func(ch chan<- endAnswer, pos int64) {
		backlog, err := w.s.unread(w.c, pos)
		ch <- endAnswer{backlog, err}
	}(w.asked, *w.pos)
	d := w.s.cfg.BacklogCheck + w.s.cfg.MaxWait
	if w.overdue == nil {
		w.overdue = time.NewTimer(d)
	} else {
		w.overdue.Reset(d)
	}
}

// overdueC is the channel of the timer of the question in flight (nil: none, never ready).
func (w *backlogWatch) overdueC() <-chan time.Time {
	if w.asked == nil || w.overdue == nil {
		return nil
	}
	return w.overdue.C
}

// stalled is the question in flight going unanswered for a check interval and MaxWait:
// records may wait behind the stalled connection.
func (w *backlogWatch) stalled() error { return w.set(true) }

// stop stops the timers.
func (w *backlogWatch) stop() {
	w.tick.Stop()
	if w.overdue != nil {
		w.overdue.Stop()
	}
}

// answered takes the broker's answer. Records read since the question was asked answer
// it better (the next silent check asks again); no answer (the broker away) means
// records may wait as well.
func (w *backlogWatch) answered(a endAnswer) error {
	w.asked = nil
	w.overdue.Stop()
	if w.received {
		return nil
	}
	return w.set(a.err != nil || a.backlog)
}

// read notes a batch read, the claim's high-water mark hwm after it.
func (w *backlogWatch) read(hwm int64) error {
	w.received = true
	if hwm > *w.pos+w.slack {
		return w.set(true)
	}
	return nil
}
