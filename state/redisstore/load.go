package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/cepd/cepd/state"
)

// ErrConcurrentSave: a checkpoint of the partition was committed while Load was reading
// it, so the keys it delivered may mix two states. The caller discards them and loads
// again; after Claim no other instance can commit, so this only happens while the
// partition is saved concurrently with its own Load.
var ErrConcurrentSave = errors.New("redisstore: partition changed during Load")

// Load implements state.Store. It first finishes a committed checkpoint whose keys are
// still being moved into place, then HSCANs the partition's hash in batches of about
// scanCount keys (memory is bounded by one batch), then reads the metadata. If a
// checkpoint is committed meanwhile, it fails with ErrConcurrentSave.
func (s *Store) Load(ctx context.Context, partition int, fn func(key string, data []byte) error) (state.Meta, error) {
	if err := s.begin(ctx, partition); err != nil {
		return state.Meta{}, err
	}
	l := s.layout(partition)
	var before meta
	for range maxPendingRounds {
		if err := s.finish(ctx, l, partition); err != nil {
			return state.Meta{}, err
		}
		var err error
		if before, err = s.readMeta(ctx, l, partition); err != nil {
			return state.Meta{}, err
		}
		if !before.pending {
			break
		}
	}
	if before.pending {
		return state.Meta{}, s.wrap(partition, "load", ErrConcurrentSave)
	}
	var buf []byte
	cursor := uint64(0)
	for {
		kv, next, err := s.c.HScan(ctx, l.keys(), cursor, "", int64(s.scanCount)).Result()
		if err != nil {
			return state.Meta{}, s.wrap(partition, "load", err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			buf = append(buf[:0], kv[i+1]...)
			if err := fn(kv[i], buf); err != nil {
				return state.Meta{}, fmt.Errorf("redisstore: partition %d: load: %w", partition, err)
			}
		}
		if next == 0 {
			break
		}
		cursor = next
		if err := ctx.Err(); err != nil {
			return state.Meta{}, err
		}
	}
	after, err := s.readMeta(ctx, l, partition)
	if err != nil {
		return state.Meta{}, err
	}
	if after.gen != before.gen || after.pending {
		return state.Meta{}, s.wrap(partition, "load", ErrConcurrentSave)
	}
	return after.Meta, nil
}

// meta is a partition's state.Meta plus what Load checks for concurrent commits.
type meta struct {
	state.Meta
	gen     int64
	pending bool
}

func (s *Store) readMeta(ctx context.Context, l layout, partition int) (meta, error) {
	r, err := metaScript.Run(ctx, s.c, []string{l.meta(), l.keys()}).Slice()
	if err != nil {
		return meta{}, s.wrap(partition, "read meta", err)
	}
	if len(r) != 8 {
		return meta{}, fmt.Errorf("redisstore: partition %d: unexpected meta reply %v", partition, r)
	}
	str := func(i int) string { v, _ := r[i].(string); return v }
	var m meta
	var errs []error
	num := func(i int, name string) int64 {
		v := str(i)
		if v == "" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q", name, v))
		}
		return n
	}
	if v := str(0); v != "" {
		e, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("epoch %q", v))
		}
		m.Epoch = e
	}
	m.Offset = num(1, "offset")
	m.Watermark = num(2, "watermark")
	m.RuleSet = str(3)
	m.Found = str(4) == "1"
	m.gen = num(5, "gen")
	m.pending = str(6) != ""
	n, _ := r[7].(int64)
	m.Keys = int(n)
	if len(errs) > 0 {
		return meta{}, fmt.Errorf("redisstore: partition %d: meta hash %s: %w: %w", partition, l.meta(), state.ErrCorrupt, errors.Join(errs...))
	}
	return m, nil
}

// Claim implements state.Store: one script raises the owner epoch to
// max(epoch, stored+1).
func (s *Store) Claim(ctx context.Context, partition int, epoch uint64) (uint64, error) {
	if err := s.begin(ctx, partition); err != nil {
		return 0, err
	}
	if epoch > maxEpoch {
		return 0, fmt.Errorf("redisstore: partition %d: epoch %d above 2^53-1", partition, epoch)
	}
	l := s.layout(partition)
	v, err := claimScript.Run(ctx, s.c, []string{l.meta()}, strconv.FormatUint(epoch, 10)).Text()
	if err != nil {
		return 0, s.wrap(partition, "claim", err)
	}
	e, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redisstore: partition %d: claim returned %q", partition, v)
	}
	return e, nil
}
