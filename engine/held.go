package engine

import (
	"bytes"
	"context"
	"errors"

	"github.com/cepd/cepd/state"
)

// Held records: a source that holds records back and hands them over out of offset
// order (the claims of a repartition topic, which release records in event-time order
// once the watermarks of every source partition pass them) cannot describe its position
// by the offset of the last record ingested. It ingests with IngestHeld instead, giving
// the position it has read up to and an opaque blob of what it holds (the held records
// and whatever it needs to go on): a checkpoint saves the blob with the partition's
// keys, at the same cut as the position, under heldKey, and Held returns it after
// Restore. So the checkpoint's offset still means "every record up to it is in the
// state, or in the blob".

// heldKey is the checkpoint key of a partition's held blob; event keys never start with
// a NUL byte.
const heldKey = "\x00cepd-held"

// IngestHeld is Ingest for a source that holds records back: after recs (which may be
// empty) the partition's position is covered (every record up to it is in the state or
// in held), and held, copied, goes with the partition's next checkpoint. Not for an
// engine of several key spaces (Config.KeySpaces).
func (e *Engine) IngestHeld(ctx context.Context, part int, recs []Record, covered int64, held []byte) ([]RecordError, error) {
	if e.ks != nil {
		return nil, errors.New("engine: IngestHeld on an engine of several key spaces")
	}
	p := e.partition(part)
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []RecordError
	if len(recs) > 0 {
		var err error
		if errs, err = p.ingest(ctx, recs, nil, nil); err != nil {
			return errs, err
		}
	}
	p.lastOffset = covered
	p.held = append(p.held[:0], held...)
	return errs, nil
}

// Held returns the blob partition part's last IngestHeld gave, or that its restored
// checkpoint held (nil: none).
func (e *Engine) Held(part int) []byte {
	p := e.partition(part)
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.held)
}

// appendHeld adds a partition's held blob (taken at the checkpoint's cut) to cp.
func appendHeld(cp *state.Checkpoint, held []byte) {
	if held != nil {
		cp.Upserts = append(cp.Upserts, state.KeyBlob{Key: heldKey, Data: held})
	}
}
