package redisrules

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/rules/store"
)

const (
	// seedLease is how long a seeding instance may go silent before another one takes
	// over; every imported rule renews it.
	seedLease = 15 * time.Second
	// seedWait is how often an instance waiting for another's seeding looks again.
	seedWait = 50 * time.Millisecond
	seedDone = "done"
)

// Seed imports rules into a store that was never seeded, exactly once however many
// instances call it at once: every instance may call it at start-up with the rules of
// its rule directory. The first to take the seeding lease (the marker key, SET NX,
// renewed by every rule it imports) imports them; the others wait until it has finished
// (or taken over if its lease expires, the seeder having died) and import nothing. Once
// seeded, the store is never seeded again, so a rule deleted through the store does not
// come back from the directory; a Redis that lost its data (no persistence, restarted)
// is seeded again by the next instance that starts.
//
// vs holds the current version of each rule to import (as store.Dir's List returns
// them) and, for a rule on trial (mode shadow, ShadowOf k > 0), also its version k, the
// active version the candidate runs beside. A rule is imported as version 1 with its
// source and mode (action create); a rule on trial as version 1 (version k's source,
// active) and version 2 (the candidate, shadow, ShadowOf 1; action shadow). Authors and
// comments are ch's. A rule that exists in the store, even deleted, is left alone, so a
// rule is created once even when two seeders overlap. Seed returns how many rules this
// call created; ErrInvalid (nothing done) if vs has an invalid id, a deleted version, a
// version not described above, or a trial without its active version.
func (s *Store) Seed(ctx context.Context, vs []store.Version, ch store.Change) (created int, err error) {
	rules, err := seedRules(vs)
	if err != nil {
		return 0, err
	}
	token := "seeding:" + newOpID()
	for {
		ok, err := s.c.SetNX(ctx, s.k.seeded, token, seedLease).Result()
		if err != nil {
			return 0, fmt.Errorf("redisrules: seed: %w", err)
		}
		if ok {
			break
		}
		v, err := s.c.Get(ctx, s.k.seeded).Result()
		switch {
		case errors.Is(err, redis.Nil): // the seeder's lease just expired: take over
			continue
		case err != nil:
			return 0, fmt.Errorf("redisrules: seed: %w", err)
		case v == seedDone:
			return 0, nil
		}
		t := time.NewTimer(seedWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("redisrules: seed: waiting for another instance's seeding: %w", ctx.Err())
		case <-t.C:
		}
	}
	keys := append(s.k.write(), s.k.seeded)
	for _, r := range rules {
		args := []any{s.auditMax, s.k.channel, token, seedLease.Milliseconds(), r[0].ID, len(r)}
		var prev *store.Version
		opID := newOpID()
		for _, v := range r {
			vch := ch
			vch.Tests = append([]byte{}, v.Tests...) // the seeded version's own tests
			st := step{v.Source, store.State{Mode: v.Mode, ShadowOf: v.ShadowOf}, v.Action, vch}
			nv, meta, audit, err := s.next(v.ID, prev, st, opID)
			if err != nil {
				return created, err
			}
			args = append(args, nv.Version, meta, nv.Source, audit, nv.Action)
			prev = &nv
		}
		res, err := seedScript.Run(ctx, s.c, keys, args...).Slice()
		if err != nil {
			return created, fmt.Errorf("redisrules: seed %q: %w", r[0].ID, err)
		}
		switch status(res) {
		case "OK":
			created++
		case "SKIP":
		case "LOST":
			return created, fmt.Errorf("redisrules: seed: lost the seeding lease (silent for over %v) at rule %q; another instance goes on", seedLease, r[0].ID)
		default:
			return created, fmt.Errorf("redisrules: seed %q: unexpected reply %v", r[0].ID, res)
		}
	}
	ok, err := seedDoneScript.Run(ctx, s.c, []string{s.k.seeded}, token).Int()
	if err != nil {
		return created, fmt.Errorf("redisrules: seed: %w", err)
	}
	if ok != 1 {
		return created, fmt.Errorf("redisrules: seed: lost the seeding lease (silent for over %v) at the end; another instance goes on", seedLease)
	}
	return created, nil
}

// seedRules checks vs and returns, per rule in the order of vs, the versions to record:
// only ID, Mode, ShadowOf, Action, Source and Tests are set.
func seedRules(vs []store.Version) ([][]store.Version, error) {
	invalid := func(format string, a ...any) error {
		return fmt.Errorf("redisrules: seed: %w: "+format, append([]any{store.ErrInvalid}, a...)...)
	}
	var order []string
	byID := map[string][]store.Version{}
	for _, v := range vs {
		if !store.StoredID(v.ID) {
			return nil, invalid("rule id %q", v.ID)
		}
		if v.Deleted {
			return nil, invalid("version %d of %q is deleted", v.Version, v.ID)
		}
		if v.Mode != "" && !v.Mode.Valid() {
			return nil, invalid("rule %q: mode %q", v.ID, v.Mode)
		}
		if _, ok := byID[v.ID]; !ok {
			order = append(order, v.ID)
		}
		byID[v.ID] = append(byID[v.ID], v)
	}
	var out [][]store.Version
	for _, id := range order {
		r := byID[id]
		cur := r[0]
		for _, v := range r[1:] {
			if v.Version > cur.Version {
				cur = v
			}
		}
		mode := cur.Mode
		if mode == "" {
			mode = store.Active
		}
		if cur.Mode != store.Shadow || cur.ShadowOf <= 0 {
			if len(r) > 1 {
				return nil, invalid("rule %q: %d versions: pass the current version only (and, for a rule on trial, the version it runs beside)", id, len(r))
			}
			out = append(out, []store.Version{{ID: id, Mode: mode, Provenance: store.Provenance{Action: store.ActionCreate}, Source: cur.Source, Tests: cur.Tests}})
			continue
		}
		if len(r) != 2 {
			return nil, invalid("rule %q is on trial beside version %d: pass that version and the current one (%d given)", id, cur.ShadowOf, len(r))
		}
		act := r[0]
		if act.Version == cur.Version {
			act = r[1]
		}
		if act.Version != cur.ShadowOf {
			return nil, invalid("rule %q is on trial beside version %d, not %d", id, cur.ShadowOf, act.Version)
		}
		out = append(out, []store.Version{
			{ID: id, Mode: store.Active, Provenance: store.Provenance{Action: store.ActionCreate}, Source: act.Source, Tests: act.Tests},
			{ID: id, Mode: store.Shadow, ShadowOf: 1, Provenance: store.Provenance{Action: store.ActionShadow}, Source: cur.Source, Tests: cur.Tests},
		})
	}
	return out, nil
}
