package redisrules

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/cepd/cepd/rules/store"
)

// maxAttempts bounds how often one change is computed again because another change of
// the same rule came first. Every conflict means some change succeeded, so only a rule
// changed by many writers at once gets near it.
const maxAttempts = 1000

// step is what a change records next: computed by a change's plan from the rule's
// current version (nil if the rule never existed) and, for a rollback, the version
// asked for.
type step struct {
	src    []byte
	st     store.State
	action string
	ch     store.Change
}

type plan func(cur, ver *store.Version) (step, error)

// live is the plan guard of every change but Create: the rule exists and is not deleted.
func live(id string, cur *store.Version) error {
	if cur == nil || cur.Deleted {
		return notFound(id)
	}
	return nil
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, id string, source []byte, ch store.Change) (store.Version, error) {
	if !store.ValidID(id) {
		return store.Version{}, fmt.Errorf("redisrules: %w: rule id %q: use lower-case letters, digits, '-' and '_'", store.ErrInvalid, id)
	}
	return s.change(ctx, "create", id, 0, func(cur, _ *store.Version) (step, error) {
		if cur != nil && !cur.Deleted {
			return step{}, fmt.Errorf("redisrules: %w: %q", store.ErrExists, id)
		}
		return step{source, store.State{Mode: store.Active}, store.ActionCreate, ch}, nil
	})
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, id string, source []byte, ch store.Change) (store.Version, error) {
	return s.change(ctx, "update", id, 0, func(cur, _ *store.Version) (step, error) {
		if err := live(id, cur); err != nil {
			return step{}, err
		}
		return step{source, store.State{Mode: cur.Mode, ShadowOf: cur.ShadowOf}, store.ActionUpdate, ch}, nil
	})
}

// Shadow implements store.Store.
func (s *Store) Shadow(ctx context.Context, id string, source []byte, ch store.Change) (store.Version, error) {
	return s.change(ctx, "shadow", id, 0, func(cur, _ *store.Version) (step, error) {
		if err := live(id, cur); err != nil {
			return step{}, err
		}
		st, err := store.TrialState(*cur)
		if err != nil {
			return step{}, fmt.Errorf("redisrules: %w", err)
		}
		return step{source, st, store.ActionShadow, ch}, nil
	})
}

// Rollback implements store.Store.
func (s *Store) Rollback(ctx context.Context, id string, n int, ch store.Change) (store.Version, error) {
	return s.change(ctx, "rollback", id, n, func(cur, ver *store.Version) (step, error) {
		if err := live(id, cur); err != nil {
			return step{}, err
		}
		old, err := snapshot{cur: cur, ver: ver}.version(id, n)
		if err != nil {
			return step{}, err
		}
		if old.Deleted {
			return step{}, fmt.Errorf("redisrules: %w: version %d of %q is a deletion", store.ErrInvalid, n, id)
		}
		if ch.Comment == "" {
			ch.Comment = fmt.Sprintf("rollback to version %d", n)
		}
		ch.Tests = ch.NextTests(append([]byte{}, old.Tests...)) // the tests of version n
		return step{old.Source, store.RollbackState(*cur), store.ActionRollback, ch}, nil
	})
}

// SetMode implements store.Store.
func (s *Store) SetMode(ctx context.Context, id string, m store.Mode, ch store.Change) (store.Version, error) {
	if !m.Valid() {
		return store.Version{}, fmt.Errorf("redisrules: %w: mode %q: use active, shadow or disabled", store.ErrInvalid, m)
	}
	return s.change(ctx, "set mode of", id, 0, func(cur, _ *store.Version) (step, error) {
		if err := live(id, cur); err != nil {
			return step{}, err
		}
		return step{cur.Source, store.ModeChange(*cur, m), store.ActionSetMode, ch}, nil
	})
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, id string, ch store.Change) (store.Version, error) {
	return s.change(ctx, "delete", id, 0, func(cur, _ *store.Version) (step, error) {
		if err := live(id, cur); err != nil {
			return step{}, err
		}
		return step{cur.Source, store.State{Mode: cur.Mode, Deleted: true}, store.ActionDelete, ch}, nil
	})
}

// change records the next version of rule id as p plans it. It reads the rule (and
// version n if n != 0), plans, and applies the result with applyScript, which checks that
// the rule's current version is still the one read; if another change came first, it
// reads and plans again on top of that change.
func (s *Store) change(ctx context.Context, op, id string, n int, p plan) (store.Version, error) {
	if !store.StoredID(id) {
		return store.Version{}, notFound(id)
	}
	opID := newOpID()
	for attempt := range maxAttempts {
		sn, err := s.read(ctx, id, n)
		if err != nil {
			return store.Version{}, err
		}
		next, err := p(sn.cur, sn.ver)
		if err != nil {
			return store.Version{}, err
		}
		v, meta, audit, err := s.next(id, sn.cur, next, opID)
		if err != nil {
			return store.Version{}, err
		}
		args := []any{s.auditMax, s.k.channel, id, sn.raw, v.Version, meta, next.src, audit, next.action}
		res, err := applyScript.Run(ctx, s.c, s.k.write(), args...).Slice()
		if err != nil {
			return store.Version{}, fmt.Errorf("redisrules: %s %q: %w", op, id, err)
		}
		switch status(res) {
		case "OK":
			return v, nil
		case "CONFLICT":
			if err := backoff(ctx, attempt); err != nil {
				return store.Version{}, fmt.Errorf("redisrules: %s %q: %w", op, id, err)
			}
		case "EXISTS":
			return store.Version{}, fmt.Errorf("redisrules: %s %q: version %d exists but the index says %d is the latest (damaged store)", op, id, v.Version, v.Version-1)
		default:
			return store.Version{}, fmt.Errorf("redisrules: %s %q: unexpected reply %v", op, id, res)
		}
	}
	return store.Version{}, fmt.Errorf("redisrules: %s %q: gave up after %d concurrent changes of the rule", op, id, maxAttempts)
}

// next builds the version that step records after cur, its stored record and its audit
// entry (JSON), with the diff as Dir makes it: the source diff, prefixed by the mode
// change if any.
func (s *Store) next(id string, cur *store.Version, st step, opID string) (store.Version, string, string, error) {
	v := store.Version{ID: id, Version: 1, Mode: st.st.Mode, Deleted: st.st.Deleted, ShadowOf: st.st.ShadowOf,
		Provenance: st.ch.Provenance(st.action, s.now()), Source: st.src}
	var prev, prevTests []byte
	if cur != nil {
		v.Version = cur.Version + 1
		if !cur.Deleted {
			prev = cur.Source
		}
		if !cur.Deleted || v.Deleted {
			prevTests = cur.Tests // a rule created again starts without the deleted rule's tests
		}
	}
	if v.Tests = st.ch.NextTests(prevTests); len(v.Tests) == 0 {
		v.Tests = nil
	}
	var after []byte
	if !v.Deleted {
		after = st.src
	}
	diff := store.Diff(prev, after)
	if cur != nil && cur.Mode != v.Mode {
		diff = fmt.Sprintf("mode: %s -> %s\n", cur.Mode, v.Mode) + diff
	}
	meta, err := json.Marshal(record{Version: v, Tests: string(v.Tests), Op: opID})
	if err != nil {
		return v, "", "", fmt.Errorf("redisrules: %w", err)
	}
	audit, err := json.Marshal(store.AuditEntry{Provenance: v.Provenance, RuleID: id,
		Version: v.Version, Diff: store.Bound(diff, store.MaxAuditDiff),
		TestsForced: store.Bound(st.ch.TestsForced, store.MaxAuditDiff)})
	if err != nil {
		return v, "", "", fmt.Errorf("redisrules: %w", err)
	}
	return v, string(meta), string(audit), nil
}

// status is the first element of a script's reply.
func status(res []any) string {
	if len(res) == 0 {
		return ""
	}
	s, _ := res[0].(string)
	return s
}

// backoff waits a little before a change is tried again, longer after each conflict, at
// random so that the writers of one rule do not collide in step.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(min(attempt+1, 20)) * int64(200*time.Microsecond)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// newOpID returns a random id for one change.
func newOpID() string {
	var b [12]byte
	crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
