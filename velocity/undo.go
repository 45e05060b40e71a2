package velocity

import "unsafe"

// Undo records the changes made to the aggregates attached to it (Agg.Log), and to the
// words its owner records with Int64 and Slot, so that they can be rolled back: the
// engine keeps one per key while the key has events it may re-match, so that the key's
// state before them (its base) costs nothing to keep and a re-match rolls back only what
// those events changed, instead of copying every window when the journal starts.
//
// Changes are logged in segments (Mark starts one, the engine one per event): within a
// segment a place is logged at its first change only, so Undo, AtStart and Forget work
// on whole segments. Records hold the old contents of the places changed (the part of an
// aggregate's header its function can change, one entry, one distinct value's node, one group, one map entry, one word), by
// pointer, and are restored in reverse order; a slice that grew in between is restored
// as the header that pointed at the old array, whose slots the log restored too. An
// attached aggregate therefore never compacts its queue in place (it moves it), and
// appends into spare capacity are logged.
//
// An Undo and its aggregates are owned by one goroutine, as the aggregates are.
type Undo struct {
	kinds []recKind // one per record, in order
	aggQs []aggQRec
	aggDs []aggDRec
	aggGs []aggGRec
	ents  []entRec
	dns   []dnRec
	grps  []grpRec
	grpWs []grpWRec
	links []linkRec
	maps  []mapRec
	words []wordRec
	slots []slotRec
	// by kind, then kinds (at nKinds): the first record not forgotten (Forget moves
	// them, and the records kept only when half of an array is forgotten)
	head [nKinds + 1]int
	seg  uint64 // the current segment (never reused: 64 bits, as the log lives as long as its shard)
	// the last group logged in this segment: an event changes one group several times
	lastGrp logged
	// likewise the last group whose window, and whose place in the list, were logged
	lastW, lastLink logged
	// the aggregates attached since the last Detach (Agg.Log; some may have been attached
	// elsewhere since): Detach detaches them without the owner walking all of its own
	attached []*Agg
}

// logged is a group logged in a segment.
type logged struct {
	p   *group
	seg uint64
}

type recKind uint8

const (
	recAggQ recKind = iota // the header of an aggregate of a Count, Sum, Avg, Min or Max window
	recAggD                // of a Distinct window
	recAggG                // of an aggregate by a field
	recEnt
	recDn
	recGrp  // a whole group
	recGrpW // a group's newest time and window header
	recLink // a group's place in the list
	recMap
	recWord
	recSlot
	nKinds // the number of kinds
)

// An aggregate's header record holds its newest time and the part of its header its
// function changes (window's qwin or dwin, or byHdr): the rest keeps its initial value
// (Spec.By aggregates change their groups' windows, logged as groups).
type aggQRec struct {
	a    *Agg
	last int64
	old  qwin
}

type aggDRec struct {
	a    *Agg
	last int64
	old  dwin
}

type aggGRec struct {
	a    *Agg
	last int64
	old  byHdr
}

type entRec struct {
	p   *entry
	old entry
}

type dnRec struct {
	p   *dnode
	old dnode
}

type grpRec struct {
	p   *group
	old group
}

type grpWRec struct {
	p    *group
	last int64
	w    window
}

type linkRec struct {
	p          *group
	prev, next int32
}

type mapRec struct {
	m   map[Key]int32
	k   Key
	old int32
	had bool
}

type wordRec struct {
	p   *int64
	old int64
}

type slotRec struct {
	p   **Agg
	old *Agg
}

// NewUndo returns an empty log.
func NewUndo() *Undo { return &Undo{seg: 1} }

// Len is the number of records: a position for Forget.
func (u *Undo) Len() int { return len(u.kinds) - u.head[nKinds] }

// Footprint is the bytes the log's arrays take (their capacity, used or not).
func (u *Undo) Footprint() int {
	return cap(u.kinds) + cap(u.aggQs)*int(unsafe.Sizeof(aggQRec{})) + cap(u.aggDs)*int(unsafe.Sizeof(aggDRec{})) +
		cap(u.aggGs)*int(unsafe.Sizeof(aggGRec{})) + cap(u.ents)*int(unsafe.Sizeof(entRec{})) +
		cap(u.dns)*int(unsafe.Sizeof(dnRec{})) + cap(u.grps)*int(unsafe.Sizeof(grpRec{})) +
		cap(u.grpWs)*int(unsafe.Sizeof(grpWRec{})) + cap(u.links)*int(unsafe.Sizeof(linkRec{})) + cap(u.maps)*int(unsafe.Sizeof(mapRec{})) +
		cap(u.words)*int(unsafe.Sizeof(wordRec{})) + cap(u.slots)*int(unsafe.Sizeof(slotRec{}))
}

// Mark starts a segment and returns the log's position before it.
func (u *Undo) Mark() int {
	u.seg++
	return u.Len()
}

// Int64 logs the word at p before its owner changes it.
func (u *Undo) Int64(p *int64) {
	push(u, &u.words, recWord, wordRec{p: p, old: *p})
}

// Slot logs the aggregate pointer at p before its owner changes it.
func (u *Undo) Slot(p **Agg) {
	push(u, &u.slots, recSlot, slotRec{p: p, old: *p})
}

// Undo rolls every change logged back and empties the log.
func (u *Undo) Undo() {
	u.swapBack()
	u.reset()
}

// AtStart rolls every change logged back, calls fn (which must change nothing the log
// covers), then puts the changes back: fn sees the state as it was when the log was
// empty.
func (u *Undo) AtStart(fn func()) {
	u.swapBack()
	fn()
	u.swapForward()
}

// Reset empties the log for reuse, without rolling anything back, and detaches its
// aggregates (Detach). It keeps its arrays when they take at most keep bytes
// (Footprint, with the list of attached aggregates, which Footprint leaves out: what a
// key's journal is charged stays as it was).
func (u *Undo) Reset(keep int) {
	u.Detach()
	if u.Footprint()+cap(u.attached)*int(unsafe.Sizeof((*Agg)(nil))) > keep {
		seg := u.seg
		*u = Undo{seg: seg}
	}
	u.reset()
}

// Detach detaches every aggregate attached to the log (Agg.Log): their changes are no
// longer logged. It reads only those, not every aggregate its owner holds.
func (u *Undo) Detach() {
	for _, a := range u.attached {
		if a.u == u { // (not one attached elsewhere since)
			a.u, a.useg = nil, 0
		}
	}
	clear(u.attached)
	u.attached = u.attached[:0]
}

// Forget drops the first n records (a position Mark returned): the changes they logged
// can no longer be rolled back. It costs what it drops (amortised): the records kept
// move only when the dropped ones are half of their array.
func (u *Undo) Forget(n int) {
	var c [nKinds + 1]int
	for _, k := range u.kinds[u.head[nKinds] : u.head[nKinds]+n] {
		c[k]++
	}
	c[nKinds] = n
	u.kinds = dropFront(u.kinds, &u.head[nKinds], n)
	u.aggQs = dropFront(u.aggQs, &u.head[recAggQ], c[recAggQ])
	u.aggDs = dropFront(u.aggDs, &u.head[recAggD], c[recAggD])
	u.aggGs = dropFront(u.aggGs, &u.head[recAggG], c[recAggG])
	u.ents = dropFront(u.ents, &u.head[recEnt], c[recEnt])
	u.dns = dropFront(u.dns, &u.head[recDn], c[recDn])
	u.grps = dropFront(u.grps, &u.head[recGrp], c[recGrp])
	u.grpWs = dropFront(u.grpWs, &u.head[recGrpW], c[recGrpW])
	u.links = dropFront(u.links, &u.head[recLink], c[recLink])
	u.maps = dropFront(u.maps, &u.head[recMap], c[recMap])
	u.words = dropFront(u.words, &u.head[recWord], c[recWord])
	u.slots = dropFront(u.slots, &u.head[recSlot], c[recSlot])
	u.seg++ // what the current segment logged may have gone: log its changes again
}

// ForgetSegments forgets the log's n oldest segments, marks holding the position Mark
// returned as each logged segment began: it drops the records before marks[n] (all of
// them when n >= len(marks)) and moves the later marks back by as many. The caller drops
// marks[:n] itself.
func (u *Undo) ForgetSegments(marks []int, n int) {
	m := u.Len()
	if n < len(marks) {
		m = marks[n]
	}
	u.Forget(m)
	for i := n; i < len(marks); i++ {
		marks[i] -= m
	}
}

// dropFront drops the n records of s after its first kept one, *h (cleared: they hold
// pointers), moving the rest to the front when what is dropped is half of s, so that
// a log trimmed as it grows costs O(1) a record and stays at most twice what it holds.
func dropFront[T any](s []T, h *int, n int) []T {
	if n == 0 {
		return s
	}
	clear(s[*h : *h+n])
	*h += n
	if *h >= len(s)/2 {
		m := copy(s, s[*h:])
		clear(s[m:])
		s, *h = s[:m], 0
	}
	return s
}

// reset empties the log's arrays, keeping them. Most logs hold records of a few kinds:
// an array with none is not cleared (emptied).
func (u *Undo) reset() {
	u.head = [nKinds + 1]int{}
	u.kinds = u.kinds[:0]
	u.aggQs = emptied(u.aggQs)
	u.aggDs = emptied(u.aggDs)
	u.aggGs = emptied(u.aggGs)
	u.ents = emptied(u.ents)
	u.dns = emptied(u.dns)
	u.grps = emptied(u.grps)
	u.grpWs = emptied(u.grpWs)
	u.links = emptied(u.links)
	u.maps = emptied(u.maps)
	u.words = emptied(u.words)
	u.slots = emptied(u.slots)
	u.seg++
	u.lastGrp, u.lastW, u.lastLink = logged{}, logged{}, logged{}
}

// emptied returns s cleared (its records hold pointers) and of length 0.
func emptied[T any](s []T) []T {
	if len(s) > 0 {
		clear(s)
	}
	return s[:0]
}

// swapBack restores the records' old contents in reverse order, keeping in each the
// contents it replaced, so that swapForward can put them back.
func (u *Undo) swapBack() {
	at := [nKinds]int{recAggQ: len(u.aggQs), recAggD: len(u.aggDs), recAggG: len(u.aggGs),
		recEnt: len(u.ents), recDn: len(u.dns), recGrp: len(u.grps), recGrpW: len(u.grpWs),
		recLink: len(u.links), recMap: len(u.maps), recWord: len(u.words), recSlot: len(u.slots)}
	for i := len(u.kinds) - 1; i >= u.head[nKinds]; i-- {
		k := u.kinds[i]
		at[k]--
		u.swapRec(k, at[k])
	}
}

// swapForward undoes swapBack over the whole log.
func (u *Undo) swapForward() {
	var at [nKinds]int
	copy(at[:], u.head[:nKinds])
	for _, k := range u.kinds[u.head[nKinds]:] {
		u.swapRec(k, at[k])
		at[k]++
	}
}

// swapRec exchanges the contents record i of kind k logged with the current ones: the
// logged contents go back, the record keeps the ones they replace.
func (u *Undo) swapRec(k recKind, i int) {
	switch k {
	case recAggQ:
		r := &u.aggQs[i]
		r.a.last, r.last = r.last, r.a.last
		r.a.w.qwin, r.old = r.old, r.a.w.qwin
	case recAggD:
		r := &u.aggDs[i]
		r.a.last, r.last = r.last, r.a.last
		r.a.w.dwin, r.old = r.old, r.a.w.dwin
	case recAggG:
		r := &u.aggGs[i]
		r.a.last, r.last = r.last, r.a.last
		*r.a.byHdr, r.old = r.old, *r.a.byHdr
	case recEnt:
		r := &u.ents[i]
		*r.p, r.old = r.old, *r.p
	case recDn:
		r := &u.dns[i]
		*r.p, r.old = r.old, *r.p
	case recGrp:
		r := &u.grps[i]
		*r.p, r.old = r.old, *r.p
	case recGrpW:
		u.grpWs[i].swap()
	case recLink:
		u.links[i].swap()
	case recMap:
		u.maps[i].swap()
	case recWord:
		r := &u.words[i]
		*r.p, r.old = r.old, *r.p
	case recSlot:
		r := &u.slots[i]
		*r.p, r.old = r.old, *r.p
	}
}

func (r *grpWRec) swap() {
	r.p.last, r.last = r.last, r.p.last
	r.p.w, r.w = r.w, r.p.w
}

func (r *linkRec) swap() {
	r.p.prev, r.prev = r.prev, r.p.prev
	r.p.next, r.next = r.next, r.p.next
}

func (r *mapRec) swap() {
	cur, had := r.m[r.k]
	if r.had {
		r.m[r.k] = r.old
	} else {
		delete(r.m, r.k)
	}
	r.old, r.had = cur, had
}

// Log attaches the aggregate to u (nil: detaches it): from now on its changes are
// logged there. Attaching it to the log it is attached to changes nothing; u.Detach
// detaches it again with the others attached to u.
func (a *Agg) Log(u *Undo) {
	if a.u == u {
		return
	}
	a.u, a.useg = u, 0
	if u != nil {
		u.attached = append(u.attached, a)
	}
}

// touch logs the aggregate's header (the part its function changes; not its slices'
// contents nor its maps) at its first change in the log's segment.
func (a *Agg) touch() {
	u := a.u
	if u == nil || a.useg == u.seg {
		return
	}
	a.useg = u.seg
	switch {
	case a.spec.By:
		push(u, &u.aggGs, recAggG, aggGRec{a: a, last: a.last, old: *a.byHdr})
	case a.spec.Func == Distinct:
		push(u, &u.aggDs, recAggD, aggDRec{a: a, last: a.last, old: a.w.dwin})
	default:
		push(u, &u.aggQs, recAggQ, aggQRec{a: a, last: a.last, old: a.w.qwin})
	}
}

// logEnt logs an entry before it changes.
func (u *Undo) logEnt(p *entry) {
	if u == nil {
		return
	}
	push(u, &u.ents, recEnt, entRec{p: p, old: *p})
}

// logDn logs a distinct value's node before it changes.
func (u *Undo) logDn(p *dnode) {
	if u == nil {
		return
	}
	push(u, &u.dns, recDn, dnRec{p: p, old: *p})
}

// logGrpW logs a group's newest time and window header before they change (nothing
// when the whole group is logged in this segment already).
func (u *Undo) logGrpW(p *group) {
	if u == nil || !u.partFirst(&u.lastW, p) {
		return
	}
	push(u, &u.grpWs, recGrpW, grpWRec{p: p, last: p.last, w: p.w})
}

// logLink logs a group's place in the list before it changes (nothing when the whole
// group is logged in this segment already).
func (u *Undo) logLink(p *group) {
	if u == nil || !u.partFirst(&u.lastLink, p) {
		return
	}
	push(u, &u.links, recLink, linkRec{p: p, prev: p.prev, next: p.next})
}

// logGrp logs a whole group (its key and window's header included) before it changes.
func (u *Undo) logGrp(p *group) {
	if u == nil || u.lastGrp == (logged{p, u.seg}) {
		return
	}
	u.lastGrp = logged{p, u.seg}
	push(u, &u.grps, recGrp, grpRec{p: p, old: *p})
}

// partFirst reports whether a part of group p (its window, its place in the list) is to
// be logged: not when the whole group is logged in the current segment, nor when p is
// the group whose part was logged last in it (*last); and makes p that.
func (u *Undo) partFirst(last *logged, p *group) bool {
	if now := (logged{p, u.seg}); u.lastGrp != now && *last != now {
		*last = now
		return true
	}
	return false
}

// push appends a record of kind k to the log, r to its kind's array recs.
func push[R any](u *Undo, recs *[]R, k recKind, r R) {
	u.kinds = append(u.kinds, k)
	*recs = append(*recs, r)
}

// logMap logs m's entry for k before it changes.
func (u *Undo) logMap(m map[Key]int32, k Key) {
	if u == nil {
		return
	}
	old, had := m[k]
	push(u, &u.maps, recMap, mapRec{m: m, k: k, old: old, had: had})
}
