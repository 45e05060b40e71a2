package redisrules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/rules/refdata"
	"github.com/cepd/cepd/rules/store"
)

// The lists and tables (store.DataStore) share the rules' hash tag, change counter and
// channel: "{P}:data:index" (name → current record), "{P}:data:versions" ("name/n" →
// record), "{P}:data:content" ("name/n" → text, the store.DataVersionsKept newest) and
// the stream "{P}:data:audit". A change publishes {"data":NAME,"version":n,...} on the
// rules' channel, so Watch tells every instance.

var _ store.DataStore = (*Store)(nil)

type dataKeys struct{ index, versions, content, audit string }

func (s *Store) dk() dataKeys {
	tag := strings.TrimSuffix(s.k.index, "index")
	return dataKeys{index: tag + "data:index", versions: tag + "data:versions", content: tag + "data:content", audit: tag + "data:audit"}
}

// putDataScript stores version n of a dataset if its newest version is still expect.
// KEYS: data index, data versions, data content, data audit, gen.
// ARGV: auditMax, channel, name, expect, n, record, content ("" for a deletion),
// audit entry, action, version whose content to drop ("0": none).
// Returns 'OK' (also when version n already holds this record: a retried script) or
// 'CONFLICT'.
var putDataScript = redis.NewScript(`
local name, n, rec = ARGV[3], ARGV[5], ARGV[6]
local cur = redis.call('HGET', KEYS[1], name)
local curN = '0'
if cur then curN = string.format('%d', cjson.decode(cur).version) end
if curN ~= ARGV[4] then
  if redis.call('HGET', KEYS[2], name .. '/' .. n) == rec then return 'OK' end
  return 'CONFLICT'
end
redis.call('HSET', KEYS[1], name, rec)
redis.call('HSET', KEYS[2], name .. '/' .. n, rec)
if ARGV[7] ~= '' then redis.call('HSET', KEYS[3], name .. '/' .. n, ARGV[7]) end
if ARGV[10] ~= '0' then redis.call('HDEL', KEYS[3], name .. '/' .. ARGV[10]) end
redis.call('XADD', KEYS[4], 'MAXLEN', ARGV[1], '*', 'name', name, 'e', ARGV[8])
local gen = redis.call('INCR', KEYS[5])
redis.call('PUBLISH', ARGV[2], cjson.encode({data = name, version = tonumber(n), action = ARGV[9], gen = gen}))
return 'OK'
`)

func decodeData(name, raw string) (store.DataVersion, error) {
	var v store.DataVersion
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return v, fmt.Errorf("redisrules: list %q: damaged record: %w", name, err)
	}
	return v, nil
}

// ListData implements store.DataStore.
func (s *Store) ListData(ctx context.Context) ([]store.DataVersion, error) {
	k := s.dk()
	all, err := s.c.HGetAll(ctx, k.index).Result()
	if err != nil {
		return nil, fmt.Errorf("redisrules: lists: %w", err)
	}
	var out []store.DataVersion
	for name, raw := range all {
		v, err := decodeData(name, raw)
		if err != nil {
			return nil, err
		}
		if v.Deleted {
			continue
		}
		if v, err = s.dataContent(ctx, v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *Store) dataContent(ctx context.Context, v store.DataVersion) (store.DataVersion, error) {
	c, err := s.c.HGet(ctx, s.dk().content, field(v.Name, v.Version)).Result()
	if errors.Is(err, redis.Nil) {
		// Another instance may have stored a newer version since the index was read.
		return v, fmt.Errorf("redisrules: %w: list %q version %d has no content (changed meanwhile?)", store.ErrConflict, v.Name, v.Version)
	}
	if err != nil {
		return v, fmt.Errorf("redisrules: list %q: %w", v.Name, err)
	}
	v.Content = []byte(c)
	return v, nil
}

func listNotFound(name string) error {
	return fmt.Errorf("redisrules: %w: list %q", store.ErrNotFound, name)
}

// GetData implements store.DataStore.
func (s *Store) GetData(ctx context.Context, name string) (store.DataVersion, error) {
	v, err := current(ctx, s, s.dk().index, name, decodeData, listNotFound, "list")
	if err != nil {
		return v, err
	}
	if v.Deleted {
		return store.DataVersion{}, listNotFound(name)
	}
	return s.dataContent(ctx, v)
}

// DataVersions implements store.DataStore.
func (s *Store) DataVersions(ctx context.Context, name string) ([]store.DataVersion, error) {
	k := s.dk()
	cur, err := current(ctx, s, k.index, name, decodeData, listNotFound, "list")
	if err != nil {
		return nil, err
	}
	fields := versionFields(name, cur.Version)
	vals, err := s.c.HMGet(ctx, k.versions, fields...).Result()
	if err != nil {
		return nil, fmt.Errorf("redisrules: list %q: %w", name, err)
	}
	out := make([]store.DataVersion, 0, len(vals))
	for i, x := range vals {
		r, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("redisrules: list %q: version %d is missing", name, i+1)
		}
		v, err := decodeData(name, r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// PutData implements store.DataStore.
func (s *Store) PutData(ctx context.Context, v store.DataVersion, expect int, ch store.Change, summary string) (store.DataVersion, error) {
	if !refdata.ValidName(v.Name) || !refdata.Kind(v.Kind).Valid() {
		return store.DataVersion{}, fmt.Errorf("redisrules: %w: list %q of kind %q", store.ErrInvalid, v.Name, v.Kind)
	}
	v.Version, v.Provenance = expect+1, ch.Provenance(v.Action, s.now())
	v.Description = store.Bound(v.Description, store.MaxComment)
	content := string(v.Content)
	if v.Deleted {
		content = ""
	} else if content == "" {
		content = "key\n" // an empty list still has its header, so its content exists
		v.Content = []byte(content)
	}
	rec := v
	rec.Content = nil
	recJSON, err := json.Marshal(rec)
	if err != nil {
		return store.DataVersion{}, fmt.Errorf("redisrules: %w", err)
	}
	audit, _ := json.Marshal(store.DataAuditEntry{Provenance: v.Provenance, Name: v.Name, Version: v.Version,
		Summary: store.Bound(summary, store.MaxAuditDiff)})
	k := s.dk()
	drop := max(v.Version-store.DataVersionsKept, 0)
	res, err := putDataScript.Run(ctx, s.c, []string{k.index, k.versions, k.content, k.audit, s.k.gen},
		s.auditMax, s.k.channel, v.Name, strconv.Itoa(expect), strconv.Itoa(v.Version), string(recJSON), content,
		string(audit), v.Action, strconv.Itoa(drop)).Text()
	if err != nil {
		return store.DataVersion{}, fmt.Errorf("redisrules: list %q: %w", v.Name, err)
	}
	if res != "OK" {
		return store.DataVersion{}, fmt.Errorf("redisrules: %w: list %q is no longer at version %d", store.ErrConflict, v.Name, expect)
	}
	return v, nil
}

// DataAudit implements store.DataStore.
func (s *Store) DataAudit(ctx context.Context, name string, limit int) ([]store.DataAuditEntry, error) {
	return readAudit[store.DataAuditEntry](ctx, s, s.dk().audit, "name", name, limit, "lists audit")
}
