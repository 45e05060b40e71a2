package redisrules

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/rules/store"
)

// Notice is the JSON message published on the store's channel after every change, in the
// same script as the change: {"id":"r1","version":3,"action":"update","gen":42}.
type Notice struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	Action  string `json:"action"`
	// Gen is the store's change counter after the change.
	Gen int64 `json:"gen"`
	// Data, on a change of a list or table (store.DataStore), names it; ID is then empty.
	Data string `json:"data,omitempty"`
	// Schema, on a change of the schema (store.SchemaStore), is its new version; ID is
	// then empty.
	Schema int `json:"schema,omitempty"`
}

// watchBuffer is how many notifications queue while onChange runs. go-redis drops a
// notification that finds the queue full for a minute; the counter poll then resyncs.
const watchBuffer = 1024

// Watch calls onChange(id) after every change of rule id made through any Store on the
// same Redis and prefix, this one included, and onChange("") — "reload every rule" —
// after every change of a list or table (store.DataStore), and
// whenever notifications may have been missed: each time the subscription is established
// (once right after Watch subscribes, and again after every reconnection) and when the
// change counter, read every PollInterval, is not the one the last notification carried.
// A caller loads its rules after the first onChange("") (or before Watch: the first
// resync covers the gap).
//
// onChange is called on Watch's goroutine, one call at a time; it may be called more
// often than needed (a resync racing a notification), never less. Watch keeps trying
// while Redis is unreachable (go-redis reconnects the subscription by itself) and returns
// nil when ctx ends, having unsubscribed.
func (s *Store) Watch(ctx context.Context, onChange func(id string)) error {
	if onChange == nil {
		return errors.New("redisrules: watch: nil onChange")
	}
	ps := s.c.Subscribe(ctx, s.k.channel)
	defer ps.Close()
	msgs := ps.ChannelWithSubscriptions(redis.WithChannelSize(watchBuffer))
	tick := time.NewTicker(s.poll)
	defer tick.Stop()
	var seen int64 // the change counter as of the last notification or resync
	known := false // whether seen is the counter of the Redis we talk to
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-msgs:
			if !ok {
				return errors.New("redisrules: watch: subscription closed")
			}
			switch m := m.(type) {
			case *redis.Subscription:
				if m.Kind != "subscribe" {
					continue
				}
				s.log.Info("redisrules: subscribed to rule changes", "channel", m.Channel)
				seen, known = s.readGen(ctx)
				onChange("")
			case *redis.Message:
				var n Notice
				if err := json.Unmarshal([]byte(m.Payload), &n); err == nil && (n.Data != "" || n.Schema > 0) {
					// A list, table or the schema changed: reload everything (lists, then
					// the rules that read them, against the schema).
					seen, known = n.Gen, true
					onChange("")
					continue
				}
				if err := json.Unmarshal([]byte(m.Payload), &n); err != nil || !store.StoredID(n.ID) {
					s.log.Warn("redisrules: bad change notice, resyncing", "payload", m.Payload)
					known = false
					onChange("")
					continue
				}
				seen, known = n.Gen, true
				onChange(n.ID)
			}
		case <-tick.C:
			g, ok := s.readGen(ctx)
			if !ok {
				known = false // resync once the counter can be read again
				continue
			}
			if !known || g != seen {
				seen, known = g, true
				onChange("")
			}
		}
	}
}

// readGen reads the change counter (0 before the first change); ok is false if Redis
// did not answer within a poll interval.
func (s *Store) readGen(ctx context.Context) (int64, bool) {
	rctx, cancel := context.WithTimeout(ctx, s.poll)
	defer cancel()
	v, err := s.c.Get(rctx, s.k.gen).Result()
	if errors.Is(err, redis.Nil) {
		return 0, true
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("redisrules: watch: reading the change counter", "err", err)
		}
		return 0, false
	}
	g, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		s.log.Warn("redisrules: watch: bad change counter", "value", v)
		return 0, false
	}
	return g, true
}
