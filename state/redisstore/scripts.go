package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts. Each touches only keys of one partition (one hash tag), named in
// KEYS, so they run unchanged on Redis Cluster. Scripts are sent with EVALSHA and, after
// NOSCRIPT (a restarted server, SCRIPT FLUSH, a failover), with EVAL (redis.Script.Run).
//
// Epochs are compared as Lua numbers (exact up to 2^53, enforced by the Go side) and
// written back as the caller's decimal string or with string.format('%d'), never with
// tostring (Lua 5.1 prints large numbers in exponent notation). Offsets, watermarks and
// the rule-set fingerprint are stored as the strings the Go side sent.
//
// Meta hash fields: epoch, offset, watermark, ruleset, found ("1" once a checkpoint was
// saved), gen (bumped by every commit), pending (id of a committed checkpoint whose
// staged keys are still being moved into place), last (id of the last staged commit),
// cursor (how far moving the pending upserts got), batch (HSCAN COUNT for moving them).
//
// Replies are arrays whose first element is a status string: OK, FENCED (then the owner
// epoch), LOST (a continuing checkpoint found no meta hash: Redis lost the data), PENDING (a staged checkpoint must be moved into place first), INCOMPLETE (the
// staging keys are not what the writer sent: expired or cut short), MORE (then a
// and DONE.

// chunkedLua defines chunked(cmd, key, args, from, to): redis.call(cmd, key, ...) with
// args[from..to], at most 400 at a time (unpack puts them on Lua's C stack, which is
// bounded). 400 is even, so field/value pairs stay together. Scripts that write many
// fields start with it.
const chunkedLua = `
local function chunked(cmd, key, args, from, to)
  local i = from
  while i <= to do
    local j = math.min(i + 399, to)
    redis.call(cmd, key, unpack(args, i, j))
    i = j + 1
  end
end
`

// directScript applies a whole small checkpoint.
// KEYS: meta, keys. ARGV: epoch, offset, watermark, ruleset, mode, nUpserts, then
// nUpserts field/value pairs, then the deleted fields. mode: "continue" (LOST when the
// meta hash is gone), "full" (the keys hash is replaced) or "".
var directScript = redis.NewScript(chunkedLua + `
local meta, keys = KEYS[1], KEYS[2]
local mode = ARGV[5]
if mode == 'continue' and redis.call('EXISTS', meta) == 0 then return {'LOST'} end
local stored = tonumber(redis.call('HGET', meta, 'epoch') or '0')
local epoch = tonumber(ARGV[1])
if epoch < stored then return {'FENCED', redis.call('HGET', meta, 'epoch')} end
if redis.call('HEXISTS', meta, 'pending') == 1 then return {'PENDING'} end
if mode == 'full' then redis.call('UNLINK', keys) end
local last = 6 + 2 * tonumber(ARGV[6])
chunked('HSET', keys, ARGV, 7, last)
chunked('HDEL', keys, ARGV, last + 1, #ARGV)
if epoch > stored then redis.call('HSET', meta, 'epoch', ARGV[1]) end
redis.call('HSET', meta, 'offset', ARGV[2], 'watermark', ARGV[3], 'ruleset', ARGV[4], 'found', '1')
redis.call('HINCRBY', meta, 'gen', 1)
return {'OK'}
`)

// commitScript makes a staged checkpoint the partition's state in O(1): it records the
// checkpoint as pending (moveScript then moves its keys into place) or, when the
// partition has no keys yet, renames the staged hash into place.
// KEYS: meta, keys, stage up, stage del.
// ARGV: epoch, id, nUp, nDel, offset, watermark, ruleset, batch (HSCAN COUNT for moving),
// mode (as directScript's; a full checkpoint stages no deletes).
var commitScript = redis.NewScript(`
local meta, keys, up, del = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id = ARGV[2]
local pending = redis.call('HGET', meta, 'pending')
if pending == id or redis.call('HGET', meta, 'last') == id then return {'OK'} end
if ARGV[9] == 'continue' and redis.call('EXISTS', meta) == 0 then
  redis.call('UNLINK', up, del)
  return {'LOST'}
end
local stored = tonumber(redis.call('HGET', meta, 'epoch') or '0')
local epoch = tonumber(ARGV[1])
if epoch < stored then
  redis.call('UNLINK', up, del)
  return {'FENCED', redis.call('HGET', meta, 'epoch')}
end
if pending then return {'PENDING'} end
if redis.call('HLEN', up) ~= tonumber(ARGV[3]) or redis.call('SCARD', del) ~= tonumber(ARGV[4]) then
  redis.call('UNLINK', up, del)
  return {'INCOMPLETE'}
end
redis.call('PERSIST', up)
redis.call('PERSIST', del)
if ARGV[9] == 'full' then redis.call('UNLINK', keys) end
if redis.call('EXISTS', up) == 1 and redis.call('EXISTS', keys) == 0 then
  redis.call('RENAME', up, keys)
end
if epoch > stored then redis.call('HSET', meta, 'epoch', ARGV[1]) end
redis.call('HSET', meta, 'offset', ARGV[5], 'watermark', ARGV[6], 'ruleset', ARGV[7], 'found', '1',
  'pending', id, 'last', id, 'batch', ARGV[8])
redis.call('HDEL', meta, 'cursor')
redis.call('HINCRBY', meta, 'gen', 1)
return {'OK'}
`)

// moveScript moves one chunk of the pending checkpoint into place: upserts first, by
// HSCAN of the staged hash from the cursor kept in meta (so that every instance
// finishing the checkpoint continues where the last step stopped, and no upsert is
// applied again after the deletes began), until about maxBytes or maxKeys were moved;
// then the staged hash is unlinked and the deletes are applied, SPOP by SPOP; when both
// staging keys are gone it clears pending. It is not fenced: the checkpoint is already
// committed, and any instance may finish it. The staged hash is not modified while it
// is scanned, so HSCAN returns each of its fields (at least) once.
// KEYS: meta, keys, stage up, stage del. ARGV: id, maxKeys, maxBytes.
// Returns {'MORE'} or {'DONE'}.
var moveScript = redis.NewScript(chunkedLua + `
local meta, keys, up, del = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('HGET', meta, 'pending') ~= ARGV[1] then return {'DONE'} end
local maxKeys, maxBytes = tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('EXISTS', up) == 1 then
  local cursor = redis.call('HGET', meta, 'cursor') or '0'
  local batch = redis.call('HGET', meta, 'batch') or '64'
  local moved, bytes = 0, 0
  repeat
    local r = redis.call('HSCAN', up, cursor, 'COUNT', batch)
    cursor = r[1]
    local kv = r[2]
    chunked('HSET', keys, kv, 1, #kv)
    for k = 2, #kv, 2 do bytes = bytes + #kv[k] end
    moved = moved + #kv / 2
  until cursor == '0' or moved >= maxKeys or bytes >= maxBytes
  if cursor == '0' then
    redis.call('UNLINK', up)
    redis.call('HDEL', meta, 'cursor')
  else
    redis.call('HSET', meta, 'cursor', cursor)
  end
  return {'MORE'}
end
local ks = redis.call('SPOP', del, maxKeys)
if #ks > 0 then
  chunked('HDEL', keys, ks, 1, #ks)
  return {'MORE'}
end
redis.call('HDEL', meta, 'pending')
return {'DONE'}
`)

// claimScript raises the owner epoch to max(requested, stored+1).
// KEYS: meta. ARGV: requested epoch. Returns the new epoch as a decimal string.
var claimScript = redis.NewScript(`
local stored = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
local e = string.format('%d', stored + 1)
if tonumber(ARGV[1]) > stored + 1 then e = ARGV[1] end
redis.call('HSET', KEYS[1], 'epoch', e)
return e
`)

// metaScript reads the meta hash and the number of keys in one step.
// KEYS: meta, keys. Returns epoch, offset, watermark, ruleset, found, gen, pending, HLEN.
var metaScript = redis.NewScript(`
local m = redis.call('HMGET', KEYS[1], 'epoch', 'offset', 'watermark', 'ruleset', 'found', 'gen', 'pending')
m[8] = redis.call('HLEN', KEYS[2])
return m
`)
