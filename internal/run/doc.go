// Package run is the run group cmd/cepd serve is built on: it owns every goroutine the
// server starts and takes the server down in a fixed order (as Prometheus does with
// oklog/run, with the order made explicit).
//
// A Group is a list of stages in stop order. A stage either owns goroutines (Stage.Go:
// each gets the stage's context, which is not the caller's, so a signal stops nothing by
// itself) or is a step run only at stop (Group.Then: a final checkpoint, a flush). Run
// waits until its context ends or any goroutine returns, then stops the stages one by
// one: a goroutine stage is cancelled and joined, a step is called; each within its own
// time bound, each logged with how long it took. A stage that overruns its bound is
// logged and left behind, so the whole stop takes at most the sum of the bounds.
//
// Stages are added before Run; Go may be called before Run or from a goroutine of the
// group. Run is called once.
//
// Every and Paced are the periodic loops a stage's goroutine runs: Every on a ticker,
// Paced at once and then an interval after each call (for work as slow as its period).
package run
