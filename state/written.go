package state

import (
	"fmt"

	"github.com/cepd/cepd/event"
)

// Decoder decodes the key states of a store for a reader running one schema. Besides what
// DecodeKeyState reads (blobs written under the schema or an ancestor of it), it reads
// blobs written under a schema it was told of with Learn that extends the running one
// (event.Compatible(running, written)): the checkpoints of an instance that took fields
// added live, restored by one that has not taken them yet, or after going back to the
// schema before them. Their events keep the running schema's fields; the values of the
// fields it lacks are read and dropped.
//
// A Decoder is not safe for concurrent use. Learn every schema before the Decode calls
// that need it.
type Decoder struct {
	schema  *event.Schema
	si      *schemaInfo
	wider   []*schemaInfo     // learnt schemas that extend the running one
	refused map[[4]byte]error // fingerprints of learnt schemas that do not, and why
}

// NewDecoder returns a Decoder for readers running schema.
func NewDecoder(schema *event.Schema) *Decoder {
	return &Decoder{schema: schema, si: infoFor(schema), refused: map[[4]byte]error{}}
}

// Learn tells d of a schema key states may have been written under. It returns nil if
// blobs written under it (or an ancestor of it) decode under the running schema, and
// otherwise an error wrapping ErrSchemaMismatch that says why not (the blobs then fail
// with it).
func (d *Decoder) Learn(written *event.Schema) error {
	if written == nil {
		return fmt.Errorf("%w: no schema", ErrSchemaMismatch)
	}
	si := newSchemaInfo(written)
	if _, ok := d.si.fieldsOf(si.fp); ok {
		return nil // the running schema's, or an ancestor of it (DecodeKeyState reads those)
	}
	if err := event.Compatible(d.schema, written); err != nil {
		err = fmt.Errorf("%w %s, which does not extend the running schema %s: %v", ErrSchemaMismatch, SchemaFingerprint(written), SchemaFingerprint(d.schema), err)
		d.refused[si.fp] = err
		for fp := range si.older { // Decode tries the running schema's ancestors first
			if _, ok := d.refused[fp]; !ok {
				d.refused[fp] = err
			}
		}
		return err
	}
	d.wider = append(d.wider, &si)
	return nil
}

// Decode decodes data: as DecodeKeyState does, or, for a blob written under a learnt
// schema that extends the running one, keeping the running schema's fields. A blob of
// another schema fails with an error wrapping ErrSchemaMismatch (see Known).
func (d *Decoder) Decode(data []byte) (*KeyState, error) {
	if err := checkBlob(data); err != nil {
		return nil, err
	}
	fp := [4]byte(data[3:7])
	if nf, ok := d.si.fieldsOf(fp); ok {
		return decodeBlob(data, d.si, d.schema, nf)
	}
	for _, w := range d.wider {
		if nf, ok := w.fieldsOf(fp); ok {
			return decodeBlob(data, w, d.schema, nf)
		}
	}
	return nil, d.unknown(fp)
}

// Known reports whether the blob data was written under the running schema or an
// ancestor of it, or under a learnt schema that extends it: nil, or why not (wrapping
// ErrSchemaMismatch). A blob that is damaged (Decode reports it as corrupt) is not
// said to be of another schema: Known returns nil.
func (d *Decoder) Known(data []byte) error {
	if len(data) < headerLen {
		return nil
	}
	fp := [4]byte(data[3:7])
	if _, ok := d.si.fieldsOf(fp); ok {
		return nil
	}
	for _, w := range d.wider {
		if _, ok := w.fieldsOf(fp); ok {
			return nil
		}
	}
	if checkBlob(data) != nil {
		return nil
	}
	return d.unknown(fp)
}

func (d *Decoder) unknown(fp [4]byte) error {
	if err, ok := d.refused[fp]; ok {
		return err
	}
	return fmt.Errorf("%w: blob schema fingerprint %x is neither the running schema %s, an ancestor of it, nor a schema it was told of", ErrSchemaMismatch, fp, SchemaFingerprint(d.schema))
}
