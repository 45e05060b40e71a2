// Package redistest runs real redis-server processes for tests: Start (an address),
// StartServer (a *Server a test can stop, hang with Signal, kill and start again on the
// same port, to play a Redis restart or outage), StartCluster (a one-node Redis Cluster
// holding every slot, which enforces Cluster's rules: CROSSSLOT errors, keys of one slot
// per script), StartClusterN (a Cluster of masters with replicas, joined by `redis-cli
// --cluster create`, whose masters Failover replaces with CLUSTER FAILOVER on a replica)
// and StartSentinel (a Sentinel monitoring a server). It is the one Redis launcher of the
// repository's tests.
//
// Every server listens on 127.0.0.1 on a free port, keeps its files in t.TempDir(),
// persists nothing (--save "" --appendonly no: a restart starts empty) and is killed by
// the test's cleanup; on Linux it also dies with the test binary (internal/testproc). A
// missing redis-server fails the test with the command that installs it: tests never
// skip for want of a server.
//
// Concurrency: the functions may be called from any test goroutine; a Server's Stop and
// Start must not run concurrently with each other, and Start, which fails the test on
// error, belongs on the test's goroutine, as do a Cluster's methods (they fail the test
// on error too).
package redistest
