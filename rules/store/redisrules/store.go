package redisrules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/rules/store"
)

// Defaults of Options.
const (
	DefaultPrefix       = "cepd:rules"
	DefaultAuditMax     = 100000
	DefaultPollInterval = 5 * time.Second
)

// Options configures a Store. The zero value means the defaults.
type Options struct {
	// Prefix is the hash tag of every key: "{<Prefix>}:index" and so on (default
	// "cepd:rules"). Deployments sharing one Redis use different prefixes. It must not
	// contain '{' or '}'.
	Prefix string
	// AuditMax bounds the audit log: the oldest entries are dropped beyond it (default
	// 100000).
	AuditMax int
	// PollInterval is how often Watch reads the change counter, in case a notification
	// was missed (default 5s).
	PollInterval time.Duration
	// Now is the clock of version and audit times (default time.Now).
	Now func() time.Time
	// Logger receives Watch's reports of Redis errors (default: none).
	Logger *slog.Logger
}

// Store is the Redis store.Store. See the package documentation.
type Store struct {
	c        redis.UniversalClient
	k        keys
	auditMax int
	poll     time.Duration
	now      func() time.Time
	log      *slog.Logger
}

var _ store.Store = (*Store)(nil)

// keys names the store's Redis keys and channel; all share one hash tag.
type keys struct {
	index, versions, sources, audit, gen, seeded, channel string
}

func newKeys(prefix string) keys {
	tag := "{" + prefix + "}:"
	return keys{
		index:    tag + "index",
		versions: tag + "versions",
		sources:  tag + "sources",
		audit:    tag + "audit",
		gen:      tag + "gen",
		seeded:   tag + "seeded",
		channel:  tag + "changes",
	}
}

// writeKeys are the KEYS of applyScript and the first KEYS of seedScript.
func (k keys) write() []string { return []string{k.index, k.versions, k.sources, k.audit, k.gen} }

// Open returns a Store on c, which the caller keeps owning (the Store never closes it).
// It checks the options and that Redis answers.
func Open(ctx context.Context, c redis.UniversalClient, o Options) (*Store, error) {
	if c == nil {
		return nil, errors.New("redisrules: nil Redis client")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, fmt.Errorf("redisrules: prefix %q contains a brace (it would break the hash tag)", o.Prefix)
	}
	if o.AuditMax < 0 || o.PollInterval < 0 {
		return nil, fmt.Errorf("redisrules: negative AuditMax %d or PollInterval %v", o.AuditMax, o.PollInterval)
	}
	if o.AuditMax == 0 {
		o.AuditMax = DefaultAuditMax
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redisrules: open: %w", err)
	}
	return &Store{c: c, k: newKeys(o.Prefix), auditMax: o.AuditMax, poll: o.PollInterval, now: o.Now, log: o.Logger}, nil
}

// record is a version as stored in Redis (without its source).
type record struct {
	store.Version
	// Tests is the version's test file text (store.Version.Tests), kept in the record.
	Tests string `json:"tests,omitempty"`
	// Op is a random id of the change that wrote the version: a script retried after a
	// lost reply recognises its own work by it.
	Op string `json:"op,omitempty"`
}

func decode(id string, data string) (store.Version, error) {
	var r record
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return store.Version{}, fmt.Errorf("redisrules: rule %q: damaged record: %w", id, err)
	}
	if r.Tests != "" {
		r.Version.Tests = []byte(r.Tests)
	}
	return r.Version, nil
}

func notFound(id string) error { return fmt.Errorf("redisrules: %w: %q", store.ErrNotFound, id) }

// current reads and decodes the index record of id in the hash key: the newest version
// of a rule or a list. A missing record is missing(id); another error is wrapped with
// what and id ("versions of", "list").
func current[V any](ctx context.Context, s *Store, key, id string, decode func(id, raw string) (V, error), missing func(id string) error, what string) (V, error) {
	raw, err := s.c.HGet(ctx, key, id).Result()
	if errors.Is(err, redis.Nil) {
		var zero V
		return zero, missing(id)
	}
	if err != nil {
		var zero V
		return zero, fmt.Errorf("redisrules: %s %q: %w", what, id, err)
	}
	return decode(id, raw)
}

func field(id string, n int) string { return fmt.Sprintf("%s/%d", id, n) }

// versionFields are the fields of versions 1 to n of id.
func versionFields(id string, n int) []string {
	fields := make([]string, n)
	for i := range fields {
		fields[i] = field(id, i+1)
	}
	return fields
}

// List implements store.Store.
func (s *Store) List(ctx context.Context) ([]store.Version, error) {
	idx, err := s.c.HGetAll(ctx, s.k.index).Result()
	if err != nil {
		return nil, fmt.Errorf("redisrules: list: %w", err)
	}
	var out []store.Version
	var fields []string
	for id, data := range idx {
		v, err := decode(id, data)
		if err != nil {
			return nil, err
		}
		if !v.Deleted {
			out = append(out, v)
		}
	}
	sortByID(out)
	if len(out) == 0 {
		return nil, nil
	}
	for _, v := range out {
		fields = append(fields, field(v.ID, v.Version))
	}
	// Versions are immutable: the sources of the versions read above cannot have changed.
	srcs, err := s.c.HMGet(ctx, s.k.sources, fields...).Result()
	if err != nil {
		return nil, fmt.Errorf("redisrules: list: %w", err)
	}
	for i := range out {
		if out[i].Source, err = source(out[i], srcs[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func sortByID(vs []store.Version) {
	slices.SortFunc(vs, func(a, b store.Version) int { return strings.Compare(a.ID, b.ID) })
}

// source converts an HMGET result to a version's source.
func source(v store.Version, x any) ([]byte, error) {
	s, ok := x.(string)
	if !ok {
		return nil, fmt.Errorf("redisrules: rule %q: source of version %d is missing (damaged store)", v.ID, v.Version)
	}
	return []byte(s), nil
}

// decodeWithSource decodes a version's index record data and gives it its source x, as
// read from the sources hash.
func decodeWithSource(id, data string, x any) (store.Version, error) {
	v, err := decode(id, data)
	if err != nil {
		return store.Version{}, err
	}
	if v.Source, err = source(v, x); err != nil {
		return store.Version{}, err
	}
	return v, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (store.Version, error) {
	if !store.StoredID(id) {
		return store.Version{}, notFound(id)
	}
	r, err := s.read(ctx, id, 0)
	if err != nil {
		return store.Version{}, err
	}
	if r.cur == nil || r.cur.Deleted {
		return store.Version{}, notFound(id)
	}
	return *r.cur, nil
}

// Versions implements store.Store.
func (s *Store) Versions(ctx context.Context, id string) ([]store.Version, error) {
	if !store.StoredID(id) {
		return nil, notFound(id)
	}
	cur, err := current(ctx, s, s.k.index, id, decode, notFound, "versions of")
	if err != nil {
		return nil, err
	}
	fields := versionFields(id, cur.Version)
	p := s.c.Pipeline()
	metas := p.HMGet(ctx, s.k.versions, fields...)
	srcs := p.HMGet(ctx, s.k.sources, fields...)
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redisrules: versions of %q: %w", id, err)
	}
	out := make([]store.Version, len(fields))
	for i, m := range metas.Val() {
		ms, ok := m.(string)
		if !ok {
			return nil, fmt.Errorf("redisrules: rule %q: version %d is missing (damaged store)", id, i+1)
		}
		if out[i], err = decodeWithSource(id, ms, srcs.Val()[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Version implements store.Store.
func (s *Store) Version(ctx context.Context, id string, n int) (store.Version, error) {
	if !store.StoredID(id) {
		return store.Version{}, notFound(id)
	}
	r, err := s.read(ctx, id, n)
	if err != nil {
		return store.Version{}, err
	}
	return r.version(id, n)
}

// Audit implements store.Store.
func (s *Store) Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	return readAudit[store.AuditEntry](ctx, s, s.k.audit, "rule", f.RuleID, f.Limit, "audit")
}

// readAudit reads the audit stream key from its newest entry, page by page: the entries
// whose field holds value (every entry if value is ""), at most limit of them (limit > 0).
// what names the stream in errors ("audit", "lists audit").
func readAudit[E any](ctx context.Context, s *Store, key, field, value string, limit int, what string) ([]E, error) {
	const page = 500
	var out []E
	start := "+"
	for {
		msgs, err := s.c.XRevRangeN(ctx, key, start, "-", page).Result()
		if err != nil {
			return nil, fmt.Errorf("redisrules: %s: %w", what, err)
		}
		for _, m := range msgs {
			if value != "" && m.Values[field] != value {
				continue
			}
			e, _ := m.Values["e"].(string)
			var a E
			if err := json.Unmarshal([]byte(e), &a); err != nil {
				return nil, fmt.Errorf("redisrules: %s entry %s is damaged: %w", what, m.ID, err)
			}
			out = append(out, a)
			if limit > 0 && len(out) == limit {
				return out, nil
			}
		}
		if len(msgs) < page {
			return out, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// snapshot is a rule's current version and, if asked for, version n (both with their
// sources) as read in one step; raw is the current index record as stored.
type snapshot struct {
	raw string
	cur *store.Version
	ver *store.Version
}

// read reads rule id's current version and, if n > 0, version n.
func (s *Store) read(ctx context.Context, id string, n int) (snapshot, error) {
	n = max(n, 0) // a version below 1 does not exist: snapshot.version reports it
	res, err := readScript.Run(ctx, s.c, []string{s.k.index, s.k.versions, s.k.sources}, id, n).Slice()
	if err != nil {
		return snapshot{}, fmt.Errorf("redisrules: read %q: %w", id, err)
	}
	var sn snapshot
	if len(res) != 4 {
		return snapshot{}, fmt.Errorf("redisrules: read %q: unexpected reply %v", id, res)
	}
	if raw, ok := res[0].(string); ok {
		v, err := decodeWithSource(id, raw, res[1])
		if err != nil {
			return snapshot{}, err
		}
		sn.raw, sn.cur = raw, &v
	}
	if raw, ok := res[2].(string); ok {
		v, err := decodeWithSource(id, raw, res[3])
		if err != nil {
			return snapshot{}, err
		}
		sn.ver = &v
	}
	return sn, nil
}

// version returns version n of the snapshot, or ErrNotFound in Dir's words.
func (sn snapshot) version(id string, n int) (store.Version, error) {
	if sn.cur == nil {
		return store.Version{}, notFound(id)
	}
	if sn.ver == nil || n < 1 || n > sn.cur.Version {
		return store.Version{}, fmt.Errorf("redisrules: %w: rule %q has no version %d (it has 1 to %d)",
			store.ErrNotFound, id, n, sn.cur.Version)
	}
	return *sn.ver, nil
}
