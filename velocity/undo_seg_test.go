package velocity

// setSeg sets the log's segment counter (TestUndoManySegments), wrapping as the
// counter's type does.
func setSeg(u *Undo, n int) { u.seg = uint64(n) }
