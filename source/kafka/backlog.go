package kafka

import "time"

// backlogWatch tells the engine whether a claim's partition has unread records
// (Engine.SetBacklog). From the restore until the broker says the partition is read to
// its end, it has a backlog, and the engine never counts it idle: the other partitions'
// time must not close the windows of keys whose events are still unread (the engine does
// not count it idle while it restores either, and restarts its idle timer after). The
// end offset fetches report goes stale when fetches stall, so only an answer from the
// broker, asked when the claim received nothing for a check interval, clears the
// backlog. The question runs beside the claim's loop: a broker connection stalled
// (behind a JoinGroup waiting for a rebalance, say) stalls fetches and questions alike
// while records keep arriving, so a question still unanswered a check interval and
// MaxWait after it was asked sets the backlog (it shares the connection with the
// fetches: it may wait behind a fetch long-poll, up to MaxWait, on top of the round
// trip). A timer marks that moment, not the next check: with the defaults a claim silent
// since S asks by S+500ms and sets the backlog by S+850ms, before an idle timeout of 1 s
// can pass.
//
// A claim of a repartition topic (Config.Merge) reads a topic written only in
// transactions: each ends with a commit marker, an offset no consumer receives. Read to
// its end, such a claim's next offset is the last marker's, one short of the end: one
// offset of slack is no backlog. Its question asks for the end (the high-water mark), not
// the last stable offset where a read_committed reader stops: committed records of one
// forwarder can wait behind another's open transaction (a forwarder killed
// mid-transaction leaves it open until its successor fences it, or it times out), and
// they are unread records (TestRepartitionClaimBehindOpenTxn). A claim whose partition
// ends in an aborted transaction, or in the markers of two transactions that interleaved,
// keeps a backlog until the next transaction ends the partition in one commit marker.
// Only the claim's goroutine uses it.
type backlogWatch struct {
	s        *Source
	c        *claim
	pos      *int64 // the claim's next offset to read
	slack    int64  // offsets past pos that are no backlog: 1 (a commit marker) for a repartition claim
	tick     *time.Ticker
	received bool           // records read since the last check
	asked    chan endAnswer // the question in flight (nil: none)
	overdue  *time.Timer    // fires when the question in flight counts as stalled
}

// endAnswer is the broker's answer to a claim's end-offset question.
type endAnswer struct {
	end int64
	err error
}

func (w *backlogWatch) set(backlog bool) error { return w.s.eng.SetBacklog(w.s.hard, w.c.id, backlog) }

// checked is a check interval's end: a claim that read nothing asks the broker for the
// end offset (unless a question is in flight).
func (w *backlogWatch) checked() {
	defer func() { w.received = false }()
	if w.asked != nil || w.received {
		return
	}
	w.asked = make(chan endAnswer, 1)
	go func(ch chan<- endAnswer) {
		end, err := w.s.endOffset(w.c)
		ch <- endAnswer{end, err}
	}(w.asked)
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
	return w.set(a.err != nil || a.end > *w.pos+w.slack)
}

// read notes a batch read, the claim's high-water mark hwm after it.
func (w *backlogWatch) read(hwm int64) error {
	w.received = true
	if hwm > *w.pos+w.slack {
		return w.set(true)
	}
	return nil
}
