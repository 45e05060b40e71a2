package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/state"
)

// Options configures a Store built by New. The zero value of every field but Addrs
// means go-redis's default.
type Options struct {
	// Addrs: one "host:port" is a standalone server; several (or Cluster set) are seed
	// nodes of a Redis Cluster; with MasterName they are Sentinel addresses.
	Addrs []string
	// Cluster forces cluster mode with a single seed address.
	Cluster bool
	// MasterName selects Sentinel mode: the name of the monitored master.
	MasterName string
	// Username and Password authenticate to Redis (ACL user, or password only).
	Username string
	Password string
	// SentinelUsername and SentinelPassword authenticate to the Sentinels when they
	// differ from the data nodes.
	SentinelUsername string
	SentinelPassword string
	// TLS, when set, is used for every connection.
	TLS *tls.Config
	// DB selects the database of a standalone or Sentinel-managed server (Cluster has
	// only 0).
	DB int
	// PoolSize is the number of connections per node.
	PoolSize int
	// DialTimeout, ReadTimeout and WriteTimeout bound each network step; with a
	// context deadline the earlier one wins. MaxRetries is how often go-redis retries
	// a command after a network error (-1: never).
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	MaxRetries   int
	// ClientName names the connections (CLIENT LIST); default "cepd-state".
	ClientName string
	// Prefix separates deployments sharing one Redis: keys are "{cepd:<Prefix>:p<N>}:…".
	// It must not contain '{' or '}'.
	Prefix string
}

// Store is the Redis backend of state.Store. See the package documentation for the
// layout and the atomicity argument.
type Store struct {
	c      redis.UniversalClient
	owns   bool // Close closes c
	prefix string

	// Tunables (tests lower them to exercise the staged path with small checkpoints).
	directMax  int // checkpoints up to this many payload bytes are applied by one script
	chunkBytes int // staging and move steps carry about this many bytes
	chunkKeys  int // … and at most this many keys
	scanCount  int // HSCAN COUNT of Load
	stageTTL   time.Duration

	mu     sync.RWMutex
	closed bool
}

var _ state.Store = (*Store)(nil)

const (
	defaultDirectMax  = 512 << 10
	defaultChunkBytes = 256 << 10
	defaultChunkKeys  = 1000
	defaultScanCount  = 1000
	defaultStageTTL   = time.Hour
	// maxEpoch: epochs are compared by Lua, whose numbers are doubles.
	maxEpoch = 1<<53 - 1
)

// New connects to Redis as opts says (standalone, Sentinel or Cluster) through
// go-redis's UniversalClient. It does not wait for Redis to be reachable: the first
// call reports a missing server, and so does every call until it is back.
func New(opts Options) (*Store, error) {
	if err := checkPrefix(opts.Prefix); err != nil {
		return nil, err
	}
	c, err := NewClient(opts)
	if err != nil {
		return nil, err
	}
	s := newStore(c, opts.Prefix)
	s.owns = true
	return s, nil
}

// NewClient returns the go-redis client New would use (standalone, Sentinel or Cluster,
// by opts), for other users of the same Redis (the rule store).
func NewClient(opts Options) (redis.UniversalClient, error) {
	if len(opts.Addrs) == 0 {
		return nil, errors.New("redisstore: no Redis address")
	}
	if opts.MasterName != "" && opts.Cluster {
		return nil, errors.New("redisstore: Sentinel (MasterName) and Cluster are exclusive")
	}
	if (len(opts.Addrs) > 1 || opts.Cluster) && opts.MasterName == "" && opts.DB != 0 {
		return nil, fmt.Errorf("redisstore: Redis Cluster has only DB 0, not %d", opts.DB)
	}
	if opts.ClientName == "" {
		opts.ClientName = "cepd-state"
	}
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 opts.Addrs,
		IsClusterMode:         opts.Cluster,
		MasterName:            opts.MasterName,
		Username:              opts.Username,
		Password:              opts.Password,
		SentinelUsername:      opts.SentinelUsername,
		SentinelPassword:      opts.SentinelPassword,
		TLSConfig:             opts.TLS,
		DB:                    opts.DB,
		PoolSize:              opts.PoolSize,
		DialTimeout:           opts.DialTimeout,
		ReadTimeout:           opts.ReadTimeout,
		WriteTimeout:          opts.WriteTimeout,
		MaxRetries:            opts.MaxRetries,
		ContextTimeoutEnabled: true,
		ClientName:            opts.ClientName,
	}), nil
}

// NewFromClient uses an existing client, which the caller keeps owning: Close does not
// close it. It panics if prefix contains '{' or '}'.
func NewFromClient(c redis.UniversalClient, prefix string) *Store {
	if err := checkPrefix(prefix); err != nil {
		panic(err)
	}
	return newStore(c, prefix)
}

func newStore(c redis.UniversalClient, prefix string) *Store {
	return &Store{
		c:          c,
		prefix:     prefix,
		directMax:  defaultDirectMax,
		chunkBytes: defaultChunkBytes,
		chunkKeys:  defaultChunkKeys,
		scanCount:  defaultScanCount,
		stageTTL:   defaultStageTTL,
	}
}

func checkPrefix(p string) error {
	if strings.ContainsAny(p, "{}") {
		return fmt.Errorf("redisstore: prefix %q contains a brace (it would break the hash tags)", p)
	}
	return nil
}

// Close marks the store closed and, when New built the client, closes it. Calls after
// Close return state.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.owns {
		return s.c.Close()
	}
	return nil
}

// begin checks the store and the call's arguments.
func (s *Store) begin(ctx context.Context, partition int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return state.ErrClosed
	}
	if partition < 0 || partition > 1<<31-1 {
		return fmt.Errorf("redisstore: partition %d out of range", partition)
	}
	return nil
}

// layout names the Redis keys of one partition. Every name starts with the same hash
// tag, so all of a partition's keys live in one Cluster slot.
type layout struct{ tag string }

func (s *Store) layout(partition int) layout {
	if s.prefix == "" {
		return layout{fmt.Sprintf("{cepd:p%d}", partition)}
	}
	return layout{fmt.Sprintf("{cepd:%s:p%d}", s.prefix, partition)}
}

func (l layout) keys() string              { return l.tag + ":keys" }
func (l layout) meta() string              { return l.tag + ":meta" }
func (l layout) stageUp(id string) string  { return l.tag + ":stage:" + id + ":up" }
func (l layout) stageDel(id string) string { return l.tag + ":stage:" + id + ":del" }

// wrap gives a Redis error its context; a closed client reads as ErrClosed.
func (s *Store) wrap(partition int, what string, err error) error {
	if errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("redisstore: partition %d: %s: %w", partition, what, state.ErrClosed)
	}
	return fmt.Errorf("redisstore: partition %d: %s: %w", partition, what, err)
}
