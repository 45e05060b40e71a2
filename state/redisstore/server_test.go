package redisstore

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/internal/redistest"
)

// startRedis starts a standalone redis-server (internal/redistest) without persistence;
// extra arguments are appended, and override.
func startRedis(t testing.TB, extra ...string) *redistest.Server {
	t.Helper()
	return redistest.StartServer(t, append([]string{"--protected-mode", "yes"}, extra...)...)
}

// client returns a go-redis client of the server at addr, closed by the test's cleanup.
func client(t testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// clusterClient returns a client of the Redis Cluster at addrs, closed by the test's
// cleanup.
func clusterClient(t testing.TB, addrs []string) *redis.ClusterClient {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { c.Close() })
	return c
}
