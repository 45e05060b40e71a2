package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/state"
)

// errPending: a committed staged checkpoint must be moved into place before the next
// one can be applied.
var errPending = errors.New("staged checkpoint pending")

// maxPendingRounds bounds how often one Save finishes another writer's checkpoint before
// giving up (only concurrent writers of one partition get there).
const maxPendingRounds = 8

// dropTimeout bounds the clean-up of staging keys after a failed Save.
const dropTimeout = 2 * time.Second

// Save implements state.Store. A checkpoint of at most directMax payload bytes is
// applied by one script; a larger one is staged in chunks, committed by an O(1) script
// and then moved into place chunk by chunk (see the package documentation).
func (s *Store) Save(ctx context.Context, cp *state.Checkpoint) error {
	if cp == nil {
		return errors.New("redisstore: nil checkpoint")
	}
	if err := s.begin(ctx, cp.Partition); err != nil {
		return err
	}
	if cp.Epoch > maxEpoch {
		return fmt.Errorf("redisstore: partition %d: epoch %d above 2^53-1", cp.Partition, cp.Epoch)
	}
	if cp.Full && len(cp.Deletes) > 0 { // a full checkpoint's keys are all there is
		c := *cp
		c.Deletes = nil
		cp = &c
	}
	l := s.layout(cp.Partition)
	if payload(cp) <= s.directMax {
		return s.saveDirect(ctx, l, cp)
	}
	return s.saveStaged(ctx, l, cp)
}

// payload is the number of key and value bytes cp carries.
func payload(cp *state.Checkpoint) int {
	n := 0
	for _, u := range cp.Upserts {
		n += len(u.Key) + len(u.Data) + 8
	}
	for _, k := range cp.Deletes {
		n += len(k) + 4
	}
	return n
}

func (s *Store) saveDirect(ctx context.Context, l layout, cp *state.Checkpoint) error {
	args := make([]any, 0, 6+2*len(cp.Upserts)+len(cp.Deletes))
	args = append(args, strconv.FormatUint(cp.Epoch, 10), strconv.FormatInt(cp.Offset, 10),
		strconv.FormatInt(cp.Watermark, 10), cp.RuleSet, mode(cp), len(cp.Upserts))
	for _, u := range cp.Upserts {
		args = append(args, u.Key, u.Data)
	}
	for _, k := range cp.Deletes {
		args = append(args, k)
	}
	keys := []string{l.meta(), l.keys()}
	return s.runFinishing(ctx, directScript, "save", l, cp, keys, args)
}

// runFinishing runs script (op names it in errors) for cp and returns its reply's
// meaning; while another writer's committed checkpoint is still pending, it finishes
// moving that one into place and runs script again, maxPendingRounds times at most.
func (s *Store) runFinishing(ctx context.Context, script *redis.Script, op string, l layout, cp *state.Checkpoint, keys []string, args []any) error {
	for range maxPendingRounds {
		r, err := script.Run(ctx, s.c, keys, args...).Slice()
		if err != nil {
			return s.wrap(cp.Partition, op, err)
		}
		err = s.reply(cp, r)
		if !errors.Is(err, errPending) {
			return err
		}
		if err := s.finish(ctx, l, cp.Partition); err != nil {
			return err
		}
	}
	return s.wrap(cp.Partition, op, errPending)
}

// mode is the scripts' mode argument for cp.
func mode(cp *state.Checkpoint) string {
	switch {
	case cp.Full:
		return "full"
	case cp.Continues:
		return "continue"
	}
	return ""
}

// reply turns a script's status reply into an error.
func (s *Store) reply(cp *state.Checkpoint, r []any) error {
	status, _ := r[0].(string)
	switch status {
	case "OK":
		return nil
	case "FENCED":
		return fmt.Errorf("redisstore: partition %d: checkpoint epoch %d, owner epoch %v: %w", cp.Partition, cp.Epoch, r[1], state.ErrFenced)
	case "LOST":
		return fmt.Errorf("redisstore: partition %d: no meta record to continue (Redis lost the data); nothing applied: %w", cp.Partition, state.ErrLost)
	case "PENDING":
		return errPending
	case "INCOMPLETE":
		return fmt.Errorf("redisstore: partition %d: staged checkpoint incomplete at commit (staging keys expired or cut short); nothing applied", cp.Partition)
	}
	return fmt.Errorf("redisstore: partition %d: unexpected script reply %v", cp.Partition, r)
}

func (s *Store) saveStaged(ctx context.Context, l layout, cp *state.Checkpoint) error {
	// Fail early when fenced, before shipping the payload.
	if e, err := s.c.HGet(ctx, l.meta(), "epoch").Uint64(); err != nil && !errors.Is(err, redis.Nil) {
		return s.wrap(cp.Partition, "save", err)
	} else if cp.Epoch < e {
		return fmt.Errorf("redisstore: partition %d: checkpoint epoch %d, owner epoch %d: %w", cp.Partition, cp.Epoch, e, state.ErrFenced)
	}
	id := newID()
	nUp, nDel, err := s.stage(ctx, l, id, cp)
	if err != nil {
		s.dropStage(l, id)
		return s.wrap(cp.Partition, "stage", err)
	}
	if err := s.commit(ctx, l, id, cp, nUp, nDel); err != nil {
		if !errors.Is(err, state.ErrFenced) { // a fenced commit dropped the staging keys itself
			s.dropStage(l, id)
		}
		return err
	}
	return s.finish(ctx, l, cp.Partition)
}

// stage writes cp's upserts to the staging hash and its deletes to the staging set, in
// pipelined chunks of about chunkBytes, and returns how many distinct keys each holds.
// The staging keys expire after stageTTL unless a commit adopts them.
func (s *Store) stage(ctx context.Context, l layout, id string, cp *state.Checkpoint) (nUp, nDel int, err error) {
	up, del := l.stageUp(id), l.stageDel(id)
	distinct := make(map[string]struct{}, len(cp.Upserts))
	for _, u := range cp.Upserts {
		distinct[u.Key] = struct{}{}
	}
	nUp = len(distinct)
	clear(distinct)
	for _, k := range cp.Deletes {
		distinct[k] = struct{}{}
	}
	nDel = len(distinct)

	ttl := s.stageTTL
	pipe := s.c.Pipeline()
	inPipe := 0 // payload bytes queued in pipe
	flush := func(force bool) error {
		if pipe.Len() == 0 || (!force && inPipe < 8*s.chunkBytes) {
			return nil
		}
		inPipe = 0
		_, err := pipe.Exec(ctx)
		return err
	}
	var args []any
	size := 0
	for i, u := range cp.Upserts {
		args = append(args, u.Key, u.Data)
		size += len(u.Key) + len(u.Data)
		if size >= s.chunkBytes || len(args) >= 2*s.chunkKeys || i == len(cp.Upserts)-1 {
			pipe.HSet(ctx, up, args...)
			pipe.Expire(ctx, up, ttl)
			inPipe += size
			args, size = nil, 0
			if err := flush(false); err != nil {
				return 0, 0, err
			}
		}
	}
	for i, k := range cp.Deletes {
		args = append(args, k)
		size += len(k)
		if size >= s.chunkBytes || len(args) >= s.chunkKeys || i == len(cp.Deletes)-1 {
			pipe.SAdd(ctx, del, args...)
			pipe.Expire(ctx, del, ttl)
			inPipe += size + 1
			args, size = nil, 0
			if err := flush(false); err != nil {
				return 0, 0, err
			}
		}
	}
	return nUp, nDel, flush(true)
}

// commit runs commitScript, finishing another writer's pending checkpoint first if
// there is one.
func (s *Store) commit(ctx context.Context, l layout, id string, cp *state.Checkpoint, nUp, nDel int) error {
	keys := []string{l.meta(), l.keys(), l.stageUp(id), l.stageDel(id)}
	// Move in HSCAN batches of about a quarter of a chunk.
	batch := 256
	if nUp > 0 {
		avg := max(1, payload(cp)/len(cp.Upserts))
		batch = min(256, max(1, s.chunkBytes/4/avg))
	}
	args := []any{strconv.FormatUint(cp.Epoch, 10), id, nUp, nDel,
		strconv.FormatInt(cp.Offset, 10), strconv.FormatInt(cp.Watermark, 10), cp.RuleSet, batch, mode(cp)}
	return s.runFinishing(ctx, commitScript, "commit", l, cp, keys, args)
}

// finish moves the partition's pending checkpoint, if any, into place. Only the moving
// is left to do: the checkpoint is already committed, so this is not fenced, and several
// instances may do it at once.
func (s *Store) finish(ctx context.Context, l layout, partition int) error {
	id, err := s.c.HGet(ctx, l.meta(), "pending").Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return s.wrap(partition, "read pending checkpoint", err)
	}
	keys := []string{l.meta(), l.keys(), l.stageUp(id), l.stageDel(id)}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := moveScript.Run(ctx, s.c, keys, id, s.chunkKeys, s.chunkBytes).Slice()
		if err != nil {
			return s.wrap(partition, "move staged checkpoint", err)
		}
		if status, _ := r[0].(string); status == "DONE" {
			return nil
		}
	}
}

// dropStage deletes staging keys after a failure, best effort: they expire anyway.
func (s *Store) dropStage(l layout, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
	defer cancel()
	s.c.Unlink(ctx, l.stageUp(id), l.stageDel(id))
}

func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
