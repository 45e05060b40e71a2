package redislog

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/alerts/analyst"
)

// Log is an analyst.Log in the Redis list "{<prefix>}:log".
type Log struct {
	c   redis.UniversalClient
	key string
}

// New returns the log of prefix (e.g. "cepd:analyst") on c.
func New(c redis.UniversalClient, prefix string) *Log {
	return &Log{c: c, key: "{" + prefix + "}:log"}
}

// Append implements analyst.Log. With AOF (appendfsync always) the entry is durable when
// Redis answers; otherwise as durable as the Redis configuration makes it.
func (l *Log) Append(ctx context.Context, e analyst.Entry) error {
	e.Seq = 0
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("analyst log: %w", err)
	}
	if err := l.c.RPush(ctx, l.key, b).Err(); err != nil {
		return fmt.Errorf("analyst log: append to redis: %w", err)
	}
	return nil
}

// page is how many entries one LRANGE reads.
const page = 1000

// Read implements analyst.Log.
func (l *Log) Read(ctx context.Context, after int64, fn func(analyst.Entry)) error {
	for {
		vals, err := l.c.LRange(ctx, l.key, after, after+page-1).Result()
		if err != nil {
			return fmt.Errorf("analyst log: read from redis: %w", err)
		}
		for _, v := range vals {
			after++
			var e analyst.Entry
			if json.Unmarshal([]byte(v), &e) == nil {
				e.Seq = after
				fn(e)
			}
		}
		if len(vals) < page {
			return nil
		}
	}
}
