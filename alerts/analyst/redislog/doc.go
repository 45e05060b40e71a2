// Package redislog is an analyst.Log in a Redis list, shared by every instance that uses
// the same Redis and prefix: RPUSH appends (atomically, in one order for all), LRANGE
// reads from a position. Safe for concurrent use.
package redislog
