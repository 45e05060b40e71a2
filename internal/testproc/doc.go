// Package testproc starts the programs a test runs as separate processes (cepd itself,
// redis-server) so that they cannot outlive the test binary.
//
// A test stops what it starts in its cleanup; but a test binary killed by -timeout or a
// signal runs no cleanup. On Linux the children started here get SIGKILL when the test
// process dies (PR_SET_PDEATHSIG), so no server is left behind either way. Elsewhere
// only the cleanup stops them.
//
// Await waits for a program a test runs, a child or a command run in process, to end
// cleanly within a bound.
//
// Concurrency: Command may be called from any goroutine. The death signal is tied to the
// OS thread that starts the child; the Go runtime ends a thread only when a goroutine
// locked to it exits, which these tests never do.
package testproc
