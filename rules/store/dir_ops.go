package store

import (
	"context"
	"fmt"
	"os"
	"sort"
)

// List implements Store.
func (d *Dir) List(_ context.Context) ([]Version, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []Version
	for _, e := range d.idx.Rules {
		if cur := e.cur(); !cur.Deleted {
			v, err := d.withSource(cur)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// live returns the entry of a rule that exists and is not deleted. d.mu is held.
func (d *Dir) live(id string) (*entry, error) {
	e := d.idx.Rules[id]
	if e == nil || e.cur().Deleted {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return e, nil
}

// Get implements Store.
func (d *Dir) Get(_ context.Context, id string) (Version, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.current(id)
}

// current returns the current version, with its source, of a rule that exists and is not
// deleted. d.mu is held.
func (d *Dir) current(id string) (Version, error) {
	e, err := d.live(id)
	if err != nil {
		return Version{}, err
	}
	return d.withSource(e.cur())
}

// Versions implements Store.
func (d *Dir) Versions(_ context.Context, id string) ([]Version, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	e := d.idx.Rules[id]
	if e == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	out := make([]Version, 0, len(e.Versions))
	for _, v := range e.Versions {
		v, err := d.withSource(v)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Version implements Store.
func (d *Dir) Version(_ context.Context, id string, n int) (Version, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.version(id, n)
}

func (d *Dir) version(id string, n int) (Version, error) {
	e := d.idx.Rules[id]
	if e == nil {
		return Version{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if n < 1 || n > len(e.Versions) {
		return Version{}, fmt.Errorf("%w: rule %q has no version %d (it has 1 to %d)", ErrNotFound, id, n, len(e.Versions))
	}
	return d.withSource(e.Versions[n-1])
}

// Create implements Store.
func (d *Dir) Create(_ context.Context, id string, source []byte, ch Change) (Version, error) {
	if !ValidID(id) {
		return Version{}, fmt.Errorf("%w: rule id %q: use lower-case letters, digits, '-' and '_'", ErrInvalid, id)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.idx.Rules[id]
	if e != nil && !e.cur().Deleted {
		return Version{}, fmt.Errorf("%w: %q", ErrExists, id)
	}
	if e == nil {
		e = &entry{File: id + ".yaml"}
		if _, err := os.Stat(d.dir + "/" + e.File); err == nil {
			return Version{}, fmt.Errorf("%w: file %s exists with another rule id", ErrExists, e.File)
		}
		d.idx.Rules[id] = e
	}
	v, err := d.apply(id, source, State{Mode: Active}, ActionCreate, ch)
	if err != nil && len(e.Versions) == 0 {
		delete(d.idx.Rules, id)
	}
	return v, err
}

// change stores the next version of the live rule id, holding d.mu: next gives its
// source and state from the current version, and may complete the change's ch.
func (d *Dir) change(id, action string, ch Change, next func(cur Version, ch *Change) ([]byte, State, error)) (Version, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, err := d.live(id)
	if err != nil {
		return Version{}, err
	}
	src, st, err := next(e.cur(), &ch)
	if err != nil {
		return Version{}, err
	}
	return d.apply(id, src, st, action, ch)
}

// Update implements Store.
func (d *Dir) Update(_ context.Context, id string, source []byte, ch Change) (Version, error) {
	return d.change(id, ActionUpdate, ch, func(cur Version, _ *Change) ([]byte, State, error) {
		return source, State{Mode: cur.Mode, ShadowOf: cur.ShadowOf}, nil
	})
}

// Shadow implements Store.
func (d *Dir) Shadow(_ context.Context, id string, source []byte, ch Change) (Version, error) {
	return d.change(id, ActionShadow, ch, func(cur Version, _ *Change) ([]byte, State, error) {
		st, err := TrialState(cur)
		return source, st, err
	})
}

// Rollback implements Store.
func (d *Dir) Rollback(_ context.Context, id string, n int, ch Change) (Version, error) {
	return d.change(id, ActionRollback, ch, func(cur Version, ch *Change) ([]byte, State, error) {
		old, err := d.version(id, n)
		if err != nil {
			return nil, State{}, err
		}
		if old.Deleted {
			return nil, State{}, fmt.Errorf("%w: version %d of %q is a deletion", ErrInvalid, n, id)
		}
		if ch.Comment == "" {
			ch.Comment = fmt.Sprintf("rollback to version %d", n)
		}
		ch.Tests = ch.NextTests(append([]byte{}, old.Tests...)) // the tests of version n
		return old.Source, RollbackState(cur), nil
	})
}

// SetMode implements Store.
func (d *Dir) SetMode(_ context.Context, id string, m Mode, ch Change) (Version, error) {
	if !m.Valid() {
		return Version{}, fmt.Errorf("%w: mode %q: use active, shadow or disabled", ErrInvalid, m)
	}
	return d.change(id, ActionSetMode, ch, func(cur Version, _ *Change) ([]byte, State, error) {
		cur, err := d.withSource(cur)
		return cur.Source, ModeChange(cur, m), err
	})
}

// Delete implements Store.
func (d *Dir) Delete(_ context.Context, id string, ch Change) (Version, error) {
	return d.change(id, ActionDelete, ch, func(cur Version, _ *Change) ([]byte, State, error) {
		cur, err := d.withSource(cur)
		return cur.Source, State{Mode: cur.Mode, Deleted: true}, err
	})
}

// Audit implements Store.
func (d *Dir) Audit(_ context.Context, f AuditFilter) ([]AuditEntry, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out, err := readJSONLog(d.auditPath(), func(a AuditEntry, _ int) bool { return f.RuleID == "" || a.RuleID == f.RuleID })
	if err != nil {
		return nil, fmt.Errorf("rule store: audit log: %w", err)
	}
	return newestFirst(out, f.Limit), nil
}
