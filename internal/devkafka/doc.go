// Package devkafka runs an in-memory Kafka cluster (franz-go's kfake, speaking the real
// wire protocol over TCP) on 127.0.0.1, for tests, CI and the README's "try it with
// Kafka" section. cmd/devkafka wraps it as a program.
//
// It owns nothing but the cluster it starts: Start returns a Cluster that the caller must
// Close (ForTest registers the Close with the test). The cluster keeps everything in
// memory unless Options.DataDir is set, in which case a cluster started again with the
// same directory (and, with StartAgain, the same port) continues with the same topics,
// records and committed group offsets: that is how tests restart a broker.
//
// One departure from kfake: a group member whose connection died while its join waited
// for a rebalance (a process killed mid-join) never got a session timer in kfake, and
// kept the partitions the leader assigned it for ever. The cluster's stale-member guard
// (stale.go) removes a member silent past its session timeout in a stable group, as a
// real broker does (TestMemberDeadInJoinExpires); a live member whose join waits for a
// long rebalance stays (TestMemberParkedInJoinStays).
//
// Concurrency: a Cluster's methods are safe for concurrent use; the cluster serves its
// clients on its own goroutines until Close returns.
package devkafka
