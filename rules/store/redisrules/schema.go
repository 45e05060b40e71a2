package redisrules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/rules/store"
)

// The schema (store.SchemaStore) shares the rules' hash tag, change counter, audit
// stream and channel: "{P}:schema" is a hash of version number → record (with its text),
// versions 1..n, so its length is the newest version. A change publishes
// {"schema":n,"action":...,"gen":g} on the rules' channel, so Watch tells every instance.

var _ store.SchemaStore = (*Store)(nil)

func (s *Store) schemaKey() string { return strings.TrimSuffix(s.k.index, "index") + "schema" }

// putSchemaScript stores version n of the schema if its newest version is still n-1.
// KEYS: schema, audit, gen. ARGV: auditMax, channel, n, record, audit entry, action.
// Returns 'OK' (also when version n already holds this record: a retried script) or
// 'CONFLICT'.
var putSchemaScript = redis.NewScript(`
local n = ARGV[3]
if string.format('%d', redis.call('HLEN', KEYS[1]) + 1) ~= n then
  if redis.call('HGET', KEYS[1], n) == ARGV[4] then return 'OK' end
  return 'CONFLICT'
end
redis.call('HSET', KEYS[1], n, ARGV[4])
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[1], '*', 'rule', '` + store.SchemaAuditID + `', 'e', ARGV[5])
local gen = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[2], cjson.encode({schema = tonumber(n), action = ARGV[6], gen = gen}))
return 'OK'
`)

func decodeSchema(n int, raw string) (store.SchemaVersion, error) {
	var v store.SchemaVersion
	if err := json.Unmarshal([]byte(raw), &v); err != nil || v.Version != n {
		return v, fmt.Errorf("redisrules: schema version %d: damaged record", n)
	}
	return v, nil
}

// GetSchema implements store.SchemaStore.
func (s *Store) GetSchema(ctx context.Context) (store.SchemaVersion, error) {
	for range 3 {
		n, err := s.c.HLen(ctx, s.schemaKey()).Result()
		if err != nil {
			return store.SchemaVersion{}, fmt.Errorf("redisrules: schema: %w", err)
		}
		if n == 0 {
			return store.SchemaVersion{}, fmt.Errorf("redisrules: %w: no schema is stored", store.ErrNotFound)
		}
		raw, err := s.c.HGet(ctx, s.schemaKey(), strconv.FormatInt(n, 10)).Result()
		if errors.Is(err, redis.Nil) {
			continue // cannot happen (versions are never removed); read again
		}
		if err != nil {
			return store.SchemaVersion{}, fmt.Errorf("redisrules: schema: %w", err)
		}
		return decodeSchema(int(n), raw)
	}
	return store.SchemaVersion{}, fmt.Errorf("redisrules: schema: %w: the newest version could not be read", store.ErrConflict)
}

// SchemaVersions implements store.SchemaStore.
func (s *Store) SchemaVersions(ctx context.Context) ([]store.SchemaVersion, error) {
	all, err := s.c.HGetAll(ctx, s.schemaKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("redisrules: schema: %w", err)
	}
	out := make([]store.SchemaVersion, 0, len(all))
	for i := 1; i <= len(all); i++ {
		raw, ok := all[strconv.Itoa(i)]
		if !ok {
			return nil, fmt.Errorf("redisrules: schema version %d is missing", i)
		}
		v, err := decodeSchema(i, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// PutSchema implements store.SchemaStore.
func (s *Store) PutSchema(ctx context.Context, source []byte, expect int, ch store.Change) (store.SchemaVersion, error) {
	var prev []byte
	if expect > 0 {
		raw, err := s.c.HGet(ctx, s.schemaKey(), strconv.Itoa(expect)).Result()
		if errors.Is(err, redis.Nil) {
			return store.SchemaVersion{}, fmt.Errorf("redisrules: %w: the schema has no version %d", store.ErrConflict, expect)
		}
		if err != nil {
			return store.SchemaVersion{}, fmt.Errorf("redisrules: schema: %w", err)
		}
		pv, err := decodeSchema(expect, raw)
		if err != nil {
			return store.SchemaVersion{}, err
		}
		prev = pv.Source
	}
	action := store.ActionUpdate
	if expect == 0 {
		action = store.ActionCreate
	}
	v := store.SchemaVersion{Version: expect + 1, Provenance: ch.Provenance(action, s.now()), Source: source}
	rec, err := json.Marshal(v)
	if err != nil {
		return store.SchemaVersion{}, fmt.Errorf("redisrules: %w", err)
	}
	audit, _ := json.Marshal(store.AuditEntry{Provenance: v.Provenance, RuleID: store.SchemaAuditID, Version: v.Version,
		Diff: store.Bound(store.Diff(prev, source), store.MaxAuditDiff)})
	res, err := putSchemaScript.Run(ctx, s.c, []string{s.schemaKey(), s.k.audit, s.k.gen},
		s.auditMax, s.k.channel, strconv.Itoa(v.Version), string(rec), string(audit), action).Text()
	if err != nil {
		return store.SchemaVersion{}, fmt.Errorf("redisrules: schema: %w", err)
	}
	if res != "OK" {
		return store.SchemaVersion{}, fmt.Errorf("redisrules: %w: the schema is no longer at version %d", store.ErrConflict, expect)
	}
	return v, nil
}
