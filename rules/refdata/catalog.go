package refdata

import (
	"sort"
	"sync/atomic"
)

// Catalog is an immutable set of datasets by name.
type Catalog struct {
	byName map[string]*Dataset
}

// NewCatalog returns the catalog of ds (a later dataset of the same name wins).
func NewCatalog(ds ...*Dataset) *Catalog {
	c := &Catalog{byName: make(map[string]*Dataset, len(ds))}
	for _, d := range ds {
		c.byName[d.Name] = d
	}
	return c
}

// Get returns the dataset named name. A nil Catalog holds nothing.
func (c *Catalog) Get(name string) (*Dataset, bool) {
	if c == nil {
		return nil, false
	}
	d, ok := c.byName[name]
	return d, ok
}

// All returns the datasets sorted by name.
func (c *Catalog) All() []*Dataset {
	if c == nil {
		return nil
	}
	out := make([]*Dataset, 0, len(c.byName))
	for _, d := range c.byName {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the names of the datasets for which keep is true (all when keep is nil),
// sorted.
func (c *Catalog) Names(keep func(*Dataset) bool) []string {
	var out []string
	for _, d := range c.All() {
		if keep == nil || keep(d) {
			out = append(out, d.Name)
		}
	}
	return out
}

// Holder publishes the current Catalog. The zero value holds an empty catalog. Safe for
// concurrent use.
type Holder struct {
	p atomic.Pointer[Catalog]
}

// NewHolder returns a Holder of c.
func NewHolder(c *Catalog) *Holder {
	h := &Holder{}
	h.Store(c)
	return h
}

// Load returns the current catalog (never nil for a non-nil Holder).
func (h *Holder) Load() *Catalog {
	if h == nil {
		return nil
	}
	if c := h.p.Load(); c != nil {
		return c
	}
	return &Catalog{}
}

// Store makes c current.
func (h *Holder) Store(c *Catalog) { h.p.Store(c) }
