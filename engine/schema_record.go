package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/state"
)

// Schema records: a key state blob names the schema it was written under by a
// fingerprint only, which is enough for a reader running that schema or a wider one (the
// same fields with optional ones added live, event.Compatible) but not for a reader
// running a narrower one: an instance that has not taken the added fields yet, or one
// started again with the schema before them. So every checkpoint that writes key states
// also saves the running schema's text under schemaKeyPrefix + its fingerprint, and a
// restore that meets a blob of a schema it does not know keeps it until the partition's
// records are read (stateReader.load): a blob of a schema that extends the running one
// decodes with the running schema's fields; any other refuses the restore (the source
// retries it later, when this instance may run the schema) rather than dropping the
// key's partial matches.

// schemaKeyPrefix starts the checkpoint keys of schema records; event keys never start
// with a NUL byte. A full checkpoint drops the records of schemas no blob is written
// under any more.
const schemaKeyPrefix = "\x00cepd-schema/"

// appendSchema adds the record of schema, the one the checkpoint's key states were
// written under (or an ancestor of it), to cp if it writes any: a checkpoint of an idle
// partition stays as small as it was.
func appendSchema(cp *state.Checkpoint, schema *event.Schema) {
	if len(cp.Upserts) == 0 {
		return
	}
	cp.Upserts = append(cp.Upserts, state.KeyBlob{Key: schemaKeyPrefix + state.SchemaFingerprint(schema), Data: []byte(schema.String())})
}

// stateReader loads a partition's key states, which Store.Load hands over in no
// particular order: a blob written under a schema other than the running one or an
// ancestor of it waits until every schema record of the partition is read. Used by one
// restore, on one goroutine.
type stateReader struct {
	dec     *state.Decoder
	waiting []state.KeyBlob
	bad     []error // records that did not parse
}

func newStateReader(schema *event.Schema) *stateReader {
	return &stateReader{dec: state.NewDecoder(schema)}
}

// load is Store.Load of partition part for a reader running the schema: it learns the
// schema records and calls fn for every other key, those of blobs of schemas it had not
// learnt yet after the others. If one was written under a schema the running one cannot
// read (not a wider one of the same fields), it refuses the restore with why, before
// calling fn with any of them.
func (r *stateReader) load(ctx context.Context, st state.Store, part int, fn func(key string, data []byte) error) (state.Meta, error) {
	meta, err := st.Load(ctx, part, func(key string, data []byte) error {
		switch {
		case strings.HasPrefix(key, schemaKeyPrefix):
			r.learn(key, data)
			return nil
		case !strings.HasPrefix(key, "\x00") && r.dec.Known(data) != nil:
			r.waiting = append(r.waiting, state.KeyBlob{Key: key, Data: bytes.Clone(data)})
			return nil
		}
		return fn(key, data)
	})
	if err != nil {
		return meta, err
	}
	for _, kb := range r.waiting {
		if err := r.dec.Known(kb.Data); err != nil {
			if len(r.bad) > 0 {
				err = fmt.Errorf("%w; %w", err, errors.Join(r.bad...))
			}
			return meta, fmt.Errorf("the state of key %q (%d keys of schemas not running here): %w; run the schema the state was written under or one extending it, or start with a new state store", kb.Key, len(r.waiting), err)
		}
	}
	for _, kb := range r.waiting {
		if err := fn(kb.Key, kb.Data); err != nil {
			return meta, err
		}
	}
	return meta, nil
}

// learn reads a schema record. A schema that does not extend the running one is
// remembered with why: its blobs refuse the restore.
func (r *stateReader) learn(key string, data []byte) {
	written, err := event.ParseSchema(data)
	if err != nil {
		r.bad = append(r.bad, fmt.Errorf("schema record %q: %w", strings.TrimPrefix(key, schemaKeyPrefix), err))
		return
	}
	_ = r.dec.Learn(written)
}

// decode decodes a key state blob that load handed over.
func (r *stateReader) decode(data []byte) (*state.KeyState, error) { return r.dec.Decode(data) }
