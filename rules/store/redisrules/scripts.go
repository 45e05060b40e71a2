package redisrules

import "github.com/redis/go-redis/v9"

// The Lua scripts. Every key they touch is named in KEYS and shares the store's hash tag,
// so they run unchanged on Redis Cluster. Redis runs a script alone, so each is atomic.
// They are sent with EVALSHA and, after NOSCRIPT (a restarted server), with EVAL
// (redis.Script.Run). Version numbers travel as the decimal strings Go sent: the scripts
// never turn a Lua number into a key.
//
// The KEYS of a write are always: index, versions, sources, audit, gen (see keys); ARGV
// starts with the audit bound and the notification channel.

// putLua defines put, which writes version n of rule id (its record meta, its source src)
// and its audit entry, bumps the change counter and publishes the change. The caller has
// checked that the version does not exist yet.
const putLua = `
local function put(id, n, meta, src, audit, action)
  local f = id .. '/' .. n
  redis.call('HSET', KEYS[1], id, meta)
  redis.call('HSET', KEYS[2], f, meta)
  redis.call('HSET', KEYS[3], f, src)
  redis.call('XADD', KEYS[4], 'MAXLEN', ARGV[1], '*', 'rule', id, 'e', audit)
  local gen = redis.call('INCR', KEYS[5])
  redis.call('PUBLISH', ARGV[2], cjson.encode({id = id, version = tonumber(n), action = action, gen = gen}))
end
`

// applyScript records one change: version n of rule id, if the rule's index record is
// still the one the change was computed from (compare and set).
// ARGV: auditMax, channel, id, expected index record ("" for no rule), n, meta, src,
// audit, action.
// Returns {'OK'}; {'OK'} too when version n already holds meta (this very change, its
// reply lost and the script retried); {'CONFLICT'} when another change came first;
// {'EXISTS'} when version n exists with another record (a damaged store).
var applyScript = redis.NewScript(putLua + `
local id, n, meta = ARGV[3], ARGV[5], ARGV[6]
local f = id .. '/' .. n
local cur = redis.call('HGET', KEYS[1], id) or ''
if cur ~= ARGV[4] then
  if redis.call('HGET', KEYS[2], f) == meta then return {'OK'} end
  return {'CONFLICT'}
end
if redis.call('HEXISTS', KEYS[2], f) == 1 then return {'EXISTS'} end
put(id, n, meta, ARGV[7], ARGV[8], ARGV[9])
return {'OK'}
`)

// readScript reads a rule's index record with its source and, if n > 0, version n with
// its source, in one step.
// KEYS: index, versions, sources. ARGV: id, n.
// Returns {record|false, source|false, version record|false, version source|false}.
var readScript = redis.NewScript(`
local id, n = ARGV[1], ARGV[2]
local cur = redis.call('HGET', KEYS[1], id)
if not cur then return {false, false, false, false} end
local n0 = string.format('%d', cjson.decode(cur).version)
local src = redis.call('HGET', KEYS[3], id .. '/' .. n0)
if n == '0' then return {cur, src, false, false} end
return {cur, src, redis.call('HGET', KEYS[2], id .. '/' .. n), redis.call('HGET', KEYS[3], id .. '/' .. n)}
`)

// seedScript imports the versions of one rule while the caller holds the seeding lease.
// KEYS: index, versions, sources, audit, gen, marker.
// ARGV: auditMax, channel, lease token, lease ms, id, k, then k times (n, meta, src,
// audit, action).
// Returns {'OK'} (imported; also when version 1 already holds this import's record: a
// retried script), {'SKIP'} (the rule exists: left alone), {'LOST'} (the lease is not
// ours any more: nothing written).
var seedScript = redis.NewScript(putLua + `
if redis.call('GET', KEYS[6]) ~= ARGV[3] then return {'LOST'} end
redis.call('PEXPIRE', KEYS[6], ARGV[4])
local id, k = ARGV[5], tonumber(ARGV[6])
if redis.call('HEXISTS', KEYS[1], id) == 1 then
  if redis.call('HGET', KEYS[2], id .. '/' .. ARGV[7]) == ARGV[8] then return {'OK'} end
  return {'SKIP'}
end
for i = 0, k - 1 do
  local b = 7 + 5 * i
  put(id, ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4])
end
return {'OK'}
`)

// seedDoneScript marks the store seeded for good if the caller still holds the lease.
// KEYS: marker. ARGV: lease token. Returns 1, or 0 if the lease was lost.
var seedDoneScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], 'done')
return 1
`)
